// `npm run build`: the package in dist/. (1) Vite library build of the entries for bundlers and Node
// (dependencies external, WGSL inlined); (2) dist/browser/graft.js, one self-contained minified ESM
// file for pages; (3) the .d.ts files (tsc), whose relative `.ts` imports become `.js` so that a
// strict `nodenext` consumer resolves them. Prints the browser file's size, raw and gzip.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { build } from 'vite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
fs.rmSync(dist, { recursive: true, force: true });

for (const config of ['vite.lib.config.ts', 'vite.browser.config.ts']) {
  await build({ configFile: path.join(root, config), root, logLevel: 'warn' });
}

const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('build: tsc failed to emit the type declarations');
  process.exit(1);
}

// Declarations: `./x.ts` -> `./x.js`; the entries pull in the WebGPU types their API names.
const typesDir = path.join(dist, 'types');
for (const file of fs.readdirSync(typesDir, { recursive: true })) {
  if (!file.endsWith('.d.ts')) continue;
  const full = path.join(typesDir, file);
  let text = fs.readFileSync(full, 'utf8');
  text = text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g, '$1$2.js$3');
  if (['index.d.ts', 'node.d.ts'].includes(file)) text = `/// <reference types="@webgpu/types" />\n${text}`;
  fs.writeFileSync(full, text);
}

// The HDF5 chunk is a third party's compiled code: its 11 MB source map helps nobody, so it is dropped.
for (const file of fs.readdirSync(path.join(dist, 'browser'))) {
  if (!/^graft-hdf5.*\.js$/.test(file)) continue;
  const full = path.join(dist, 'browser', file);
  fs.rmSync(`${full}.map`, { force: true });
  fs.writeFileSync(full, fs.readFileSync(full, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
}

const browserFile = path.join(dist, 'browser/graft.js');
const bytes = fs.readFileSync(browserFile);
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`build: dist/ ready; dist/browser/graft.js ${kb(bytes.length)} raw, ${kb(zlib.gzipSync(bytes, { level: 9 }).length)} gzip`);
