// `npm run build` when dist/ is missing or older than the sources (tests that use the built package).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function newest(dir: string): number {
  let t = 0;
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) t = Math.max(t, fs.statSync(path.join(dir, f)).mtimeMs);
  return t;
}

/** Builds the package unless dist/ is newer than src/, shaders/ and the build files; returns the build's output on failure. */
export function ensureBuilt(force = false): { ok: boolean; out: string } {
  const built = path.join(root, 'dist/index.js');
  const inputs = Math.max(newest(path.join(root, 'src')), newest(path.join(root, 'shaders')), ...['package.json', 'vite.lib.config.ts', 'vite.browser.config.ts', 'scripts/build.js'].map((f) => fs.statSync(path.join(root, f)).mtimeMs));
  if (!force && fs.existsSync(built) && fs.existsSync(path.join(root, 'dist/types/index.d.ts')) && fs.statSync(built).mtimeMs > inputs) return { ok: true, out: 'up to date' };
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/build.js')], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}${r.error ?? ''}` };
}
