// `npm run demo`: the fine-tuning page (examples/demo) on a Vite dev server. The page imports
// 'graft-webgpu' from the built package (dist/), so the package is built first when dist/ is missing
// or older than the sources. Weights are served from GRAFT_WEIGHTS_DIR (default ../shared/pretrained).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function newest(dir) {
  let t = 0;
  for (const f of fs.readdirSync(dir, { recursive: true })) t = Math.max(t, fs.statSync(path.join(dir, f)).mtimeMs);
  return t;
}

const built = path.join(root, 'dist/index.js');
if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < Math.max(newest(path.join(root, 'src')), newest(path.join(root, 'shaders')))) {
  console.log('demo: building the package first (npm run build)…');
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/build.js')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const { createServer } = await import('vite');
const port = Number(process.env.PORT ?? 5173);
const server = await createServer({ configFile: path.join(root, 'examples/demo/vite.config.ts'), server: { port, host: process.env.HOST } });
await server.listen();
server.printUrls();
console.log('demo: WebGPU needs Chrome/Edge 113+ (or another browser with navigator.gpu); Ctrl-C stops the server');
