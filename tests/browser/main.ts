// The Chrome run: import the shared test files (all but *.node.test.ts), run each file's suites in
// registration order, and hand every result to puppeteer through window.graftReport. A file that
// fails to import, a hook that throws and an error nobody handled each count as one failure.
// ?fixtures=1 runs the deliberately broken suites of tests/fixtures/runner instead (the runner's own
// test, tests/runner/runner.node.test.ts); ?filter=x keeps the files whose path contains x.
import { type ShimResult, beginFile, runSuite } from './vitest-shim.ts';

interface Result extends ShimResult {
  file: string;
}
interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}
declare global {
  interface Window {
    graftReport?: (r: Result) => Promise<void>;
    graftDone?: (summary: Counts) => Promise<void>;
    /** Set once this module runs: the runner waits for it to tell a page that never started. */
    graftStarted?: boolean;
  }
}

window.graftStarted = true;
const params = new URLSearchParams(location.search);
const files = params.get('fixtures')
  ? import.meta.glob('../fixtures/runner/*.fixture.ts')
  : import.meta.glob(['../**/*.test.ts', '!../**/*.node.test.ts']);
const filter = params.get('filter');
const log = document.getElementById('log')!;
const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
let file = '(page)';

async function report(r: Result): Promise<void> {
  counts[r.status]++;
  log.textContent += `\n${r.status} ${r.file} > ${r.name}${r.error ? `\n    ${r.error}` : ''}`;
  await window.graftReport?.(r);
}

// Errors nobody handled (an exception in a callback, a rejected promise nobody awaited) fail the run,
// attributed to the file that was running.
const unhandled = (error: string) => void report({ name: '(unhandled error)', file, status: 'failed', ms: 0, error });
window.addEventListener('error', (e) => unhandled(e.error instanceof Error ? e.error.message : e.message));
window.addEventListener('unhandledrejection', (e) => unhandled(e.reason instanceof Error ? e.reason.message : String(e.reason)));

let matched = 0;
for (const [key, load] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
  file = key.replace(/^\.\.\//, 'tests/');
  if (filter && !file.includes(filter)) continue;
  matched++;
  const root = beginFile();
  try {
    await load();
  } catch (e) {
    await report({ name: '(import)', file, status: 'failed', ms: 0, error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) });
    continue;
  }
  await runSuite(root, (r) => report({ ...r, file }));
}
// As vitest does, a run that finds no test file fails.
if (!matched) await report({ name: '(no test files)', file: '(page)', status: 'failed', ms: 0, error: `no test file matches the filter ${filter}` });
// Give rejections of the last file's stray promises a moment to surface before the summary.
await new Promise((resolve) => setTimeout(resolve, 50));
log.textContent += `\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`;
await window.graftDone?.(counts);
