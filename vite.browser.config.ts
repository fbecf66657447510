// `npm run build` (2 of 3): dist/browser/graft.js, ONE self-contained minified ESM file for
// `<script type="module">` (every dependency bundled, no bare import, no Node built-in), with a source
// map. Optional heavy parts (the HDF5 reader, h5wasm) are dynamic imports: separate chunks beside it,
// loaded only when a .h5 file is read.
import { defineConfig } from 'vite';

export default defineConfig({
  publicDir: false,
  build: {
    outDir: 'dist/browser',
    emptyOutDir: true,
    target: 'es2022',
    minify: true,
    sourcemap: true,
    lib: { entry: 'src/index.ts', formats: ['es'], fileName: () => 'graft.js' },
    rollupOptions: { output: { chunkFileNames: 'graft-[name]-[hash].js' } },
  },
});
