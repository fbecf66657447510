// The README's test command: the kernel/graph suites in Node (vitest on Dawn) and the same suites in
// headless Chrome (puppeteer), then one summary line "N passed, N failed".
//   npm test                 both
//   npm test -- --node       Node only
//   npm test -- --chrome     Chrome only
//   npm test -- --filter x   only test files whose path contains x
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from './browser.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const only = argv.includes('--node') ? 'node' : argv.includes('--chrome') ? 'chrome' : null;
const filterAt = argv.indexOf('--filter');
const filter = filterAt >= 0 ? argv[filterAt + 1] : null;

async function runNode() {
  console.log('\n=== Node suite (vitest, Dawn) ===');
  const out = path.join(root, 'test-results', 'node.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.rmSync(out, { force: true });
  const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`];
  if (filter) args.push(filter);
  const code = await new Promise((resolve) => {
    const child = spawn('npx', args, { cwd: root, stdio: 'inherit', env: { ...process.env, FORCE_COLOR: '0' } });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  if (!fs.existsSync(out)) return { passed: 0, failed: 1, skipped: 0, note: `vitest exited ${code} without results` };
  const r = JSON.parse(fs.readFileSync(out, 'utf8'));
  // A file that fails to import counts as a failure even with no test inside it.
  const brokenFiles = r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
  return { passed: r.numPassedTests, failed: r.numFailedTests + brokenFiles, skipped: r.numPendingTests + r.numTodoTests };
}

async function runChrome() {
  console.log('\n=== Chrome suite (headless, puppeteer) ===');
  const { createServer } = await import('vite');
  const server = await createServer({ configFile: path.join(root, 'tests/browser/vite.config.ts'), server: { port: 0 } });
  await server.listen();
  const { port } = server.httpServer.address();
  const { browser, found } = await launchBrowser();
  console.log(`browser: ${found.path} (${found.source}) ${await browser.version()}`);
  const counts = { passed: 0, failed: 0, skipped: 0 };
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.log(`  page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`  console: ${m.text()}`);
    });
    let finish;
    const done = new Promise((resolve) => (finish = resolve));
    await page.exposeFunction('graftReport', (r) => {
      const mark = r.status === 'passed' ? '✓' : r.status === 'skipped' ? '-' : '✗';
      console.log(` ${mark} ${r.file} > ${r.name} (${Math.round(r.ms)} ms)${r.error ? `\n     ${r.error.split('\n').join('\n     ')}` : ''}`);
    });
    await page.exposeFunction('graftDone', (c) => finish(c));
    const url = `http://127.0.0.1:${port}/tests/browser/index.html${filter ? `?filter=${encodeURIComponent(filter)}` : ''}`;
    await page.goto(url);
    const adapter = await page.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return a ? `${a.info.vendor} ${a.info.architecture} ${a.info.description}`.trim() : 'none';
    });
    console.log(`adapter: ${adapter}`);
    const timeoutMs = Number(process.env.GRAFT_CHROME_TIMEOUT_MS ?? 40 * 60_000);
    const result = await Promise.race([done, new Promise((r) => setTimeout(() => r(null), timeoutMs))]);
    if (!result) {
      console.log(`  Chrome suite timed out after ${timeoutMs} ms`);
      counts.failed++;
    } else Object.assign(counts, result);
  } finally {
    await browser.close();
    await server.close();
  }
  return counts;
}

const results = {};
if (only !== 'chrome') results.Node = await runNode();
if (only !== 'node') {
  try {
    results.Chrome = await runChrome();
  } catch (e) {
    console.log(`Chrome suite could not run: ${e.message}`);
    results.Chrome = { passed: 0, failed: 1, skipped: 0 };
  }
}
console.log('\n=== Summary ===');
let passed = 0;
let failed = 0;
let skipped = 0;
for (const [name, r] of Object.entries(results)) {
  console.log(`${name}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${r.note ? ` (${r.note})` : ''}`);
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
