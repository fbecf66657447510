// The README's test command: the suites in Node (vitest on Dawn) and the same suites in headless
// Chrome (puppeteer), then the skipped tests with their reasons and, as the last line of output,
// "N passed, N failed, N skipped". `node scripts/test.js --help` lists the options.
//
// What counts as a failure: a failed test; a file that fails to import; a beforeAll / afterAll that
// throws (its suite fails; its tests are "not run", listed with the skips); an error nobody handled
// (an unhandled rejection, an exception in a callback); a suite that never finishes. In Node the counts
// come from vitest's JSON report (test-results/node.json) plus scripts/vitest-failures.js, a reporter
// that records what the JSON report leaves out (hook and import errors by suite, unhandled errors,
// skipped tests); if vitest still says the run failed (its exit code, the report's `success`) where
// nothing was counted, that counts as one failure with a note. Exit status: 1 if anything failed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tsImport } from 'tsx/esm/api';

const HELP = `Usage: npm test -- [options]   (or: node scripts/test.js [options])

Runs the test suites in Node (vitest, WebGPU on Dawn) and in headless Chrome (puppeteer), lists
every skipped test with its reason, and ends with one line "N passed, N failed, N skipped".
Exits 1 if anything failed: a test, a hook (beforeAll/afterAll), a file that fails to import, an
unhandled error, or a non-zero exit of vitest.

Options:
  --node             run the Node suite only
  --chrome           run the Chrome suite only
  --filter <text>    only the test files whose path contains <text>
  --fixtures         run the deliberately broken suites of tests/fixtures/runner instead of the
                     real ones (the runner's own test uses this; it must report failures)
  -h, --help         this text

Environment: GRAFT_CHROME_TIMEOUT_MS (default 40 minutes) bounds the Chrome suite.`;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let args;
try {
  args = parseArgs({
    options: {
      node: { type: 'boolean', default: false },
      chrome: { type: 'boolean', default: false },
      filter: { type: 'string' },
      fixtures: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (e) {
  console.error(`${e.message}\n\n${HELP}`);
  process.exit(2);
}
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const only = args.node && !args.chrome ? 'node' : args.chrome && !args.node ? 'chrome' : null;
const filter = args.filter ?? null;
// The fixture run keeps its results apart, so that it never overwrites those of a real run.
const resultsDir = path.join(root, 'test-results', args.fixtures ? 'fixtures' : '');

/** A tally of one suite: counts, the skipped tests with their reasons, one note per failure. */
const tally = () => ({ passed: 0, failed: 0, skipped: 0, skips: [], notes: [] });

async function runNode() {
  console.log('\n=== Node suite (vitest, Dawn) ===');
  const out = path.join(resultsDir, 'node.json');
  const failuresOut = path.join(resultsDir, 'node-failures.json');
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.rmSync(out, { force: true });
  fs.rmSync(failuresOut, { force: true });
  const vitestArgs = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, '--reporter=./scripts/vitest-failures.js'];
  if (filter) vitestArgs.push(filter);
  const env = { ...process.env, FORCE_COLOR: '0', GRAFT_FAILURES_OUT: failuresOut };
  if (args.fixtures) env.GRAFT_TEST_FIXTURES = '1';
  else delete env.GRAFT_TEST_FIXTURES;
  const code = await new Promise((resolve) => {
    const child = spawn('npx', vitestArgs, { cwd: root, stdio: 'inherit', env });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? `signal ${signal}` : 1)));
  });
  const t = tally();
  if (!fs.existsSync(out)) {
    t.failed = 1;
    t.notes.push(`vitest exited ${code} without a JSON report`);
    return t;
  }
  const r = JSON.parse(fs.readFileSync(out, 'utf8'));
  const extra = fs.existsSync(failuresOut) ? JSON.parse(fs.readFileSync(failuresOut, 'utf8')) : null;
  t.passed = r.numPassedTests;
  t.failed = r.numFailedTests;
  t.skipped = r.numPendingTests + r.numTodoTests;
  const rel = (f) => path.relative(root, f);
  for (const f of r.testResults) {
    for (const a of f.assertionResults) if (a.status === 'failed') t.notes.push(`${rel(f.name)} > ${[...a.ancestorTitles, a.title].join(' > ')}: ${(a.failureMessages[0] ?? '').split('\n')[0]}`);
  }
  // Files that failed without a failed test in them: an import error or a hook that threw.
  const brokenFiles = r.testResults.filter((f) => f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed'));
  if (extra) {
    // One failure per suite (or file) that failed outside its tests, and one per unhandled error.
    for (const s of extra.suiteErrors) {
      t.failed++;
      t.notes.push(`${s.file} > ${s.suite}: ${s.messages.join('; ')}`);
    }
    for (const u of extra.unhandled) {
      t.failed++;
      t.notes.push(`unhandled error${u.file ? ` in ${u.file}` : ''}: ${u.message}`);
    }
    for (const f of brokenFiles) {
      if (extra.suiteErrors.some((s) => s.file === rel(f.name))) continue;
      t.failed++;
      t.notes.push(`${rel(f.name)}: failed with no failed test and no suite error${f.message ? `: ${f.message}` : ''}`);
    }
    for (const s of extra.skipped) t.skips.push(`${s.file} > ${s.name}${s.note ? ` (${s.note})` : ''}`);
  } else {
    console.log('warning: no report from scripts/vitest-failures.js; hook failures and unhandled errors are counted from the JSON report and the exit code only');
    for (const f of brokenFiles) {
      t.failed++;
      t.notes.push(`${rel(f.name)}: ${f.message || 'failed outside its tests (a hook?)'}`);
    }
    for (const f of r.testResults) {
      for (const a of f.assertionResults) if (a.status !== 'passed' && a.status !== 'failed') t.skips.push(`${rel(f.name)} > ${[...a.ancestorTitles, a.title].join(' > ')}`);
    }
  }
  // vitest's own verdict has the last word: a failed run is never reported as a clean one.
  if (t.failed === 0 && (code !== 0 || !r.success)) {
    t.failed = 1;
    t.notes.push(`vitest reported failure (exit code ${code}, success ${r.success}) but no failed test, suite or unhandled error was found: counted as 1 failure`);
  }
  return t;
}

async function runChrome() {
  console.log('\n=== Chrome suite (headless, puppeteer) ===');
  const { createServer } = await import('vite');
  const server = await createServer({ configFile: path.join(root, 'tests/browser/vite.config.ts'), server: { port: 0 } });
  await server.listen();
  const { port } = server.httpServer.address();
  // The package's testing entry (graft-webgpu/testing), from its TypeScript source.
  const { launchBrowser } = await tsImport('../src/testing/index.ts', import.meta.url);
  const { browser, found } = await launchBrowser();
  console.log(`browser: ${found.path} (${found.source}) ${await browser.version()}`);
  const t = tally();
  try {
    const page = await browser.newPage();
    // The page counts its own unhandled errors (tests/browser/main.ts); these lines show them, and
    // anything that broke the page before its listeners were installed.
    page.on('pageerror', (e) => console.log(`  page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`  console: ${m.text()}`);
    });
    let finish;
    const done = new Promise((resolve) => (finish = resolve));
    await page.exposeFunction('graftReport', (r) => {
      t[r.status]++;
      if (r.status === 'skipped') t.skips.push(`${r.file} > ${r.name}`);
      if (r.status === 'failed') t.notes.push(`${r.file} > ${r.name}: ${(r.error ?? '').split('\n')[0]}`);
      const mark = r.status === 'passed' ? '✓' : r.status === 'skipped' ? '-' : '✗';
      console.log(` ${mark} ${r.file} > ${r.name} (${Math.round(r.ms)} ms)${r.error ? `\n     ${r.error.split('\n').join('\n     ')}` : ''}`);
    });
    await page.exposeFunction('graftDone', (c) => finish(c));
    const query = new URLSearchParams();
    if (filter) query.set('filter', filter);
    if (args.fixtures) query.set('fixtures', '1');
    const url = `http://127.0.0.1:${port}/tests/browser/index.html${query.size ? `?${query}` : ''}`;
    await page.goto(url);
    // A page whose test module never ran (the shim failed to load, say) would otherwise wait for the
    // whole timeout: give it two minutes to start.
    const started = await page.waitForFunction(() => window.graftStarted === true, { timeout: 120_000 }).then(() => true, () => false);
    if (!started) {
      t.failed++;
      t.notes.push('the test page did not start (see the page errors above)');
      return t;
    }
    const adapter = await page.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return a ? `${a.info.vendor} ${a.info.architecture} ${a.info.description}`.trim() : 'none';
    });
    console.log(`adapter: ${adapter}`);
    const timeoutMs = Number(process.env.GRAFT_CHROME_TIMEOUT_MS ?? 40 * 60_000);
    const result = await Promise.race([done, new Promise((r) => setTimeout(() => r(null), timeoutMs))]);
    if (!result) {
      t.failed++;
      t.notes.push(`the Chrome suite did not finish within ${timeoutMs} ms`);
    } else if (result.passed !== t.passed || result.failed !== t.failed || result.skipped !== t.skipped) {
      // The page's own counts and the reports that reached this process must agree.
      t.failed++;
      t.notes.push(`the page counted ${result.passed}/${result.failed}/${result.skipped} passed/failed/skipped, the reports ${t.passed}/${t.failed}/${t.skipped}`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
  return t;
}

const results = {};
if (only !== 'chrome') results.Node = await runNode();
if (only !== 'node') {
  try {
    results.Chrome = await runChrome();
  } catch (e) {
    const t = tally();
    t.failed = 1;
    t.notes.push(`the Chrome suite could not run: ${e.message}`);
    results.Chrome = t;
  }
}

console.log('\n=== Summary ===');
const total = tally();
for (const [name, r] of Object.entries(results)) {
  console.log(`${name}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
  for (const n of r.notes) console.log(`  failed: ${n}`);
  total.passed += r.passed;
  total.failed += r.failed;
  total.skipped += r.skipped;
}
const skips = Object.entries(results).flatMap(([name, r]) => r.skips.map((s) => `  ${name}: ${s}`));
if (skips.length) console.log(`Skipped:\n${skips.join('\n')}`);
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed ? 1 : 0);
