// The Chrome run: import the shared test files (all but *.node.test.ts), run them one by one in
// registration order, and hand each result to puppeteer through window.graftReport.
import { registry } from './vitest-shim.ts';

interface Result {
  name: string;
  file: string;
  status: 'passed' | 'failed' | 'skipped';
  ms: number;
  error?: string;
}
declare global {
  interface Window {
    graftReport?: (r: Result) => Promise<void>;
    graftDone?: (summary: { passed: number; failed: number; skipped: number }) => Promise<void>;
  }
}

const files = import.meta.glob(['../**/*.test.ts', '!../**/*.node.test.ts']);
const filter = new URLSearchParams(location.search).get('filter');
const log = document.getElementById('log')!;
const counts = { passed: 0, failed: 0, skipped: 0 };

for (const [file, load] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
  if (filter && !file.includes(filter)) continue;
  const before = registry.length;
  let loadError: string | null = null;
  try {
    await load();
  } catch (e) {
    loadError = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  }
  const name = file.replace(/^\.\.\//, 'tests/');
  if (loadError) {
    counts.failed++;
    await window.graftReport?.({ name: '(import)', file: name, status: 'failed', ms: 0, error: loadError });
    continue;
  }
  for (const t of registry.slice(before)) {
    const r: Result = { name: t.name, file: name, status: 'passed', ms: 0 };
    if (t.skip) r.status = 'skipped';
    else {
      const start = performance.now();
      try {
        await t.fn();
      } catch (e) {
        r.status = 'failed';
        r.error = e instanceof Error ? e.message : String(e);
      }
      r.ms = performance.now() - start;
    }
    counts[r.status]++;
    log.textContent += `\n${r.status} ${name} > ${r.name}${r.error ? `\n    ${r.error}` : ''}`;
    await window.graftReport?.(r);
  }
}
log.textContent += `\n${counts.passed} passed, ${counts.failed} failed`;
await window.graftDone?.(counts);
