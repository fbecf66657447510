// Vite config of the Chrome test page: the shared test files import 'vitest', which here is the shim.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Plugin, defineConfig } from 'vite';

/**
 * The shared read-only data beside the repository (../shared: pre-trained weights, photos), served
 * read-only at /__shared__/ so that browser tests can fetch it (the page's root is the repository).
 */
function sharedFolder(): Plugin {
  const root = fileURLToPath(new URL('../../../shared/', import.meta.url));
  const types: Record<string, string> = { '.json': 'application/json', '.png': 'image/png', '.txt': 'text/plain; charset=utf-8' };
  return {
    name: 'graft-shared-folder',
    configureServer(server) {
      server.middlewares.use('/__shared__', (req, res, next) => {
        const file = path.join(root, decodeURIComponent((req.url ?? '/').split('?')[0]));
        if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return next();
        res.setHeader('content-type', types[path.extname(file)] ?? 'application/octet-stream');
        fs.createReadStream(file).pipe(res);
      });
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: { alias: { vitest: fileURLToPath(new URL('./vitest-shim.ts', import.meta.url)) } },
  plugins: [sharedFolder()],
  server: { host: '127.0.0.1', hmr: false, watch: null },
  logLevel: 'warn',
  clearScreen: false,
  optimizeDeps: { noDiscovery: true, include: [] },
});
