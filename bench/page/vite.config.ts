// Vite config of the benchmark page (bench/page/index.html), served from the repository root.
// tfjs's packages are pre-bundled (they import CommonJS helpers), into a cache folder of the
// bench's own so that it never disturbs the test page's.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  cacheDir: 'node_modules/.vite-bench',
  server: { host: '127.0.0.1', hmr: false, watch: null },
  logLevel: 'warn',
  clearScreen: false,
  optimizeDeps: {
    noDiscovery: true,
    include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu'],
  },
});
