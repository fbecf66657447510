// The demo, served (`npm run demo`) or built: 'graft-webgpu' resolves to the package's built browser
// entry (dist/index.js, `npm run build`), as it would for a consumer who installed the package, and
// /pretrained/ serves the pre-trained weights (GRAFT_WEIGHTS_DIR, default ../shared/pretrained).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Connect, type Plugin, defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const weightsDir = path.resolve(process.env.GRAFT_WEIGHTS_DIR ?? path.join(repo, '../shared/pretrained'));

function servePretrained(): Plugin {
  const handler: Connect.NextHandleFunction = (req, res, next) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith('/pretrained/')) return next();
    const file = path.join(weightsDir, decodeURIComponent(url.pathname.slice('/pretrained/'.length)));
    if (!file.startsWith(weightsDir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.statusCode = 404;
      res.end(`not found: ${url.pathname} (weights are served from ${weightsDir}; set GRAFT_WEIGHTS_DIR)`);
      return;
    }
    res.setHeader('content-type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    fs.createReadStream(file).pipe(res);
  };
  return {
    name: 'graft-demo-pretrained',
    configureServer: (server) => void server.middlewares.use(handler),
    configurePreviewServer: (server) => void server.middlewares.use(handler),
  };
}

export default defineConfig({
  root: here,
  publicDir: false,
  plugins: [servePretrained()],
  resolve: { alias: { 'graft-webgpu': path.join(repo, 'dist/index.js') } },
  optimizeDeps: { include: ['wgsl_reflect/wgsl_reflect.module.js', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu'] },
  build: { outDir: path.join(repo, 'dist-demo'), emptyOutDir: true, target: 'es2022' },
  server: { fs: { allow: [repo] } },
});
