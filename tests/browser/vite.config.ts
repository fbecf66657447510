// Vite config of the Chrome test page: the shared test files import 'vitest', which here is the shim.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: { alias: { vitest: fileURLToPath(new URL('./vitest-shim.ts', import.meta.url)) } },
  server: { host: '127.0.0.1', hmr: false, watch: null },
  logLevel: 'warn',
  clearScreen: false,
  optimizeDeps: { noDiscovery: true, include: [] },
});
