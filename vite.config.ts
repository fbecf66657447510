// `npm run build:example`: a production browser bundle of examples/classify-page (proves the
// library bundles for the web with no Node-only code in it).
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'examples/classify-page',
  build: { outDir: '../../dist/classify-page', emptyOutDir: true, target: 'es2022' },
});
