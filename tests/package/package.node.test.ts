// The package as a consumer gets it: `npm run build`, `npm pack`, the tarball installed into a scratch
// project outside the repository, then (1) plain `node` imports 'graft-webgpu' and adds two tensors on
// Dawn (SwiftShader without a GPU), and reports a missing `webgpu` in one line; (2) a strict
// TypeScript consumer (nodenext) typechecks; (3) headless Chrome loads a page that imports
// dist/browser/graft.js with a bare <script type="module"> and runs a kernel; (4) a Vite app bundles
// `import { graft } from 'graft-webgpu'`. Also: installing the tarball runs no install script and
// brings no browser, and the browser file holds no Node built-in and no bare import.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, resolveBrowser } from '../../src/testing/index.ts';
import { readSafetensors } from '../../src/weights/safetensors.ts';
import { ensureBuilt } from './built.ts';
import { writeFashionPngs } from './fashion-pngs.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npmVersion = spawnSync(npm, ['--version'], { encoding: 'utf8' });
const canPack = npmVersion.status === 0;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeout = 180_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, ...env } });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

// The SwiftShader ICD that the repository's own Chrome brings (for a CPU-only machine; a system
// Chromium's ICD is found by Graft itself).
async function swiftShaderIcd(): Promise<string | undefined> {
  const found = await resolveBrowser().catch(() => null);
  const icd = found && path.join(path.dirname(found.path), 'vk_swiftshader_icd.json');
  return icd && fs.existsSync(icd) ? icd : process.env.GRAFT_VK_ICD;
}

const describePackage = canPack ? describe : describe.skip;
if (!canPack) it.skip(`the packed package (skipped: npm cannot run here: ${npmVersion.error ?? npmVersion.stderr})`, () => {});

describePackage('the packed package, installed into a scratch project', () => {
  let scratch = '';
  let app = '';
  let bareInstall = '';
  let kernelEnv: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    const built = ensureBuilt();
    expect(built.ok, built.out).toBe(true);
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-package-'));
    const packed = run(npm, ['pack', '--pack-destination', scratch, '--ignore-scripts'], root);
    expect(packed.status, packed.out).toBe(0);
    const tarball = path.join(scratch, `${pkg.name}-${pkg.version}.tgz`);
    expect(fs.existsSync(tarball), packed.out).toBe(true);
    app = path.join(scratch, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    // As a consumer installs it: install scripts allowed and shown (--foreground-scripts).
    const install = run(npm, ['install', tarball, '--foreground-scripts', '--prefer-offline', '--no-audit', '--no-fund'], app);
    expect(install.status, install.out).toBe(0);
    bareInstall = install.out;
    kernelEnv = { GRAFT_VK_ICD: await swiftShaderIcd() };
  }, 420_000);

  afterAll(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('installs with no install script and no browser, Node-only tools left out', () => {
    expect(bareInstall).not.toMatch(/^> .*(preinstall|install|postinstall)$/m);
    const installed = fs.readdirSync(path.join(app, 'node_modules')).flatMap((d) => (d.startsWith('@') ? fs.readdirSync(path.join(app, 'node_modules', d)).map((s) => `${d}/${s}`) : [d]));
    for (const absent of ['puppeteer', 'puppeteer-core', '@sparticuz/chromium', 'tsx', 'webgpu', 'vite', 'vitest', '@tensorflow/tfjs-core']) expect(installed).not.toContain(absent);
    expect(installed).toContain('graft-webgpu');
    const files = fs.readdirSync(path.join(app, 'node_modules/graft-webgpu'));
    expect(files.sort()).toEqual(['README.md', 'bin', 'dist', 'package.json']);
  });

  it('plain node without the webgpu package: a one-line error that says what to install', () => {
    fs.writeFileSync(path.join(app, 'add.mjs'), [
      "import { graft, ops } from 'graft-webgpu';",
      'const gpu = await graft();',
      'const sum = ops.add(gpu.tensor([1, 2, 3, 4], [4]), gpu.tensor([10, 20, 30, 40], [4]));',
      'console.log(JSON.stringify({ sum: Array.from(await sum.data()), adapter: gpu.adapter.description }));',
      'gpu.destroy();',
    ].join('\n'));
    const r = run(process.execPath, ['-e', "import('graft-webgpu').then((g) => g.graft()).then(() => console.log('opened'), (e) => { console.log(`ERROR ${e.message}`); })"], app, kernelEnv);
    expect(r.status, r.out).toBe(0);
    expect(r.out.trim()).toBe('ERROR graft: WebGPU in Node needs the `webgpu` package (Dawn), which is not installed: npm install webgpu');
  });

  it('(1) plain node imports graft-webgpu and runs a kernel on Dawn', () => {
    const peer = run(npm, ['install', `webgpu@${pkg.peerDependencies.webgpu}`, '--prefer-offline', '--no-audit', '--no-fund'], app);
    expect(peer.status, peer.out).toBe(0);
    const r = run(process.execPath, ['add.mjs'], app, kernelEnv);
    expect(r.status, r.out).toBe(0);
    const result = JSON.parse(r.out.trim().split('\n').pop()!);
    expect(result.sum).toEqual([11, 22, 33, 44]);
    expect(typeof result.adapter).toBe('string');
  });

  const weights = path.resolve(root, '../shared/pretrained/darknet-tiny');
  const haveWeights = fs.existsSync(path.join(weights, 'model.json'));
  (haveWeights ? it : it.skip)(`the README's fine-tuning example (examples/fine-tune.mjs) runs as written${haveWeights ? '' : ' (skipped: no ../shared/pretrained/darknet-tiny)'}`, async () => {
    fs.copyFileSync(path.join(root, 'examples/fine-tune.mjs'), path.join(app, 'fine-tune.mjs'));
    const images = path.join(scratch, 'my-images');
    writeFashionPngs(images, [1, 7], 16); // trouser, sneaker
    const [unseen] = writeFashionPngs(path.join(scratch, 'new'), [7], 1, 16).sneaker;
    const out = path.join(scratch, 'fine-tuned.safetensors');
    const r = run(process.execPath, ['fine-tune.mjs', weights, images, unseen, out], app, kernelEnv);
    expect(r.status, r.out).toBe(0);
    const accuracy = Number(/validation accuracy (\d+)%/.exec(r.out)?.[1]);
    expect(accuracy, r.out).toBeGreaterThan(50); // 2 classes: chance is 50%
    expect(r.out).toContain(`${unseen}: sneaker`);
    const saved = await readSafetensors(new Uint8Array(fs.readFileSync(out)));
    expect(JSON.parse(saved.metadata.classes)).toEqual(['sneaker', 'trouser']);
    expect([...saved.tensors.keys()]).toContain('classifier.weight');
  }, 240_000);

  it('the installed `graft` command runs the compiled CLI', () => {
    const r = run(path.join(app, 'node_modules/.bin/graft'), ['--help'], app);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/usage: graft <command>/);
  });

  it('(2) a strict TypeScript consumer (module and moduleResolution nodenext) typechecks', () => {
    fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false, types: [] },
      files: ['use.ts'],
    }));
    fs.writeFileSync(path.join(app, 'use.ts'), [
      "import { graft, ops, models, fit, adam, type Tensor, GraftError } from 'graft-webgpu';",
      "import { graft as graftBrowser } from 'graft-webgpu/browser';",
      'export async function demo(): Promise<number[]> {',
      '  const gpu = await graft();',
      '  const a: Tensor = gpu.tensor([1, 2], [2]);',
      '  const s = ops.add(a, a);',
      '  const net = models.darknetTiny({ gpu, includeTop: false });',
      '  const opt = adam({ lr: 1e-3 });',
      '  void [net, opt, fit, graftBrowser, GraftError];',
      '  return Array.from(await s.data());',
      '}',
      '// @ts-expect-error: a tensor is not a number',
      'export const wrong: number = ({} as Tensor);',
    ].join('\n'));
    const r = run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
    expect(r.status, r.out).toBe(0);
    expect(r.out.trim()).toBe('');
  });

  it('(4) a Vite app bundles it, and the browser file holds no Node built-in and no bare import', async () => {
    const browserDir = path.join(app, 'node_modules/graft-webgpu/dist/browser');
    const main = fs.readFileSync(path.join(browserDir, 'graft.js'), 'utf8');
    // Every import, export-from, dynamic import and require() of each file, from its syntax tree.
    const { parseAst } = await import('rollup/parseAst');
    const specifiers = (code: string): string[] => {
      const found: string[] = [];
      const walk = (n: unknown): void => {
        if (!n || typeof n !== 'object') return;
        if (Array.isArray(n)) return n.forEach(walk);
        const node = n as { type?: string; source?: { type: string; value?: unknown }; callee?: { type: string; name?: string }; arguments?: { type: string; value?: unknown }[] };
        if (/^(Import|ExportAll|ExportNamed)Declaration$|^ImportExpression$/.test(node.type ?? '') && node.source) found.push(node.source.type === 'Literal' ? String(node.source.value) : '<computed>');
        if (node.type === 'CallExpression' && node.callee?.type === 'Identifier' && node.callee.name === 'require') found.push(`require(${node.arguments?.[0]?.type === 'Literal' ? String(node.arguments[0].value) : '<computed>'})`);
        for (const value of Object.values(node)) if (value && typeof value === 'object') walk(value);
      };
      walk(parseAst(code));
      return found;
    };
    const nodeBuiltin = /["'`]node:[a-z_]+/;
    for (const file of fs.readdirSync(browserDir).filter((f) => f.endsWith('.js'))) {
      const text = fs.readFileSync(path.join(browserDir, file), 'utf8');
      expect(specifiers(text).filter((s) => !s.startsWith('./')), file).toEqual([]);
      expect(nodeBuiltin.exec(text)?.[0], file).toBeUndefined();
    }
    // The HDF5 reader is a separate chunk, loaded only when a .h5 file is read.
    const hdf5 = fs.readdirSync(browserDir).filter((f) => /^graft-hdf5.*\.js$/.test(f));
    expect(hdf5).toHaveLength(1);
    expect(fs.readFileSync(path.join(browserDir, hdf5[0]), 'utf8')).toMatch(/H5Fopen/);
    expect(main).not.toMatch(/H5Fopen|emscripten/);
    expect(main).toContain(`import("./${hdf5[0]}")`);

    const web = path.join(app, 'web');
    fs.mkdirSync(web);
    fs.writeFileSync(path.join(web, 'index.html'), '<!doctype html><script type="module" src="./main.js"></script>');
    fs.writeFileSync(path.join(web, 'main.js'), "import { graft, ops } from 'graft-webgpu';\nconst gpu = await graft();\nconsole.log(await ops.add(gpu.tensor([1], [1]), gpu.tensor([2], [1])).data());\n");
    const { build } = await import('vite');
    await build({ root: web, configFile: false, logLevel: 'error', build: { outDir: path.join(web, 'dist'), target: 'es2022' } });
    const assets = path.join(web, 'dist/assets');
    const js = fs.readdirSync(assets).filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    const bundled = js.map((f) => fs.readFileSync(path.join(assets, f), 'utf8')).join('\n');
    expect(nodeBuiltin.exec(bundled)?.[0]).toBeUndefined();
    for (const f of js) expect(specifiers(fs.readFileSync(path.join(assets, f), 'utf8')).filter((s) => !s.startsWith('./')), f).toEqual([]);
    expect(bundled).toMatch(/navigator\.gpu|requestAdapter/);
  }, 180_000);

  it("the README's size of dist/browser/graft.js is within 10% of the built file's", async () => {
    const zlib = await import('node:zlib');
    const stated = /\*\*(\d+) KiB raw, (\d+) KiB gzip\*\*/.exec(fs.readFileSync(path.join(root, 'README.md'), 'utf8'));
    expect(stated, 'README: "**N KiB raw, M KiB gzip**"').not.toBeNull();
    const bytes = fs.readFileSync(path.join(app, 'node_modules/graft-webgpu/dist/browser/graft.js'));
    const [raw, gzip] = [bytes.length / 1024, zlib.gzipSync(bytes, { level: 9 }).length / 1024];
    expect(Math.abs(raw / Number(stated![1]) - 1), `built: ${raw.toFixed(0)} KiB raw`).toBeLessThan(0.1);
    expect(Math.abs(gzip / Number(stated![2]) - 1), `built: ${gzip.toFixed(0)} KiB gzip`).toBeLessThan(0.1);
  });

  it('(3) headless Chrome: a page imports dist/browser/graft.js with a bare <script type="module"> and runs a kernel', async () => {
    const browserAvailable = await resolveBrowser().then(() => true, () => false);
    expect(browserAvailable, 'no Chrome/Chromium found (set GRAFT_CHROME)').toBe(true);
    fs.writeFileSync(path.join(app, 'page.html'), [
      '<!doctype html><title>graft-webgpu from a script tag</title>',
      '<script type="module">',
      "import { graft, ops } from './node_modules/graft-webgpu/dist/browser/graft.js';",
      'try {',
      '  const gpu = await graft();',
      '  const sum = ops.add(gpu.tensor([1, 2, 3], [3]), gpu.tensor([0.5, 0.5, 0.5], [3]));',
      '  window.result = { sum: Array.from(await sum.data()) };',
      '} catch (e) { window.result = { error: String(e && e.message || e) }; }',
      '</script>',
    ].join('\n'));
    const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' };
    const server = http.createServer((req, res) => {
      const file = path.join(app, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
      if (!file.startsWith(app) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' }).end(fs.readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { browser } = await launchBrowser();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push((e as Error).message));
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/page.html`);
      await page.waitForFunction('window.result', { timeout: 90_000 });
      const result = (await page.evaluate('window.result')) as { sum?: number[]; error?: string };
      expect(result.error).toBeUndefined();
      expect(result.sum).toEqual([1.5, 2.5, 3.5]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      server.close();
    }
  }, 180_000);
});
