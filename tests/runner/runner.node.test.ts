// The test runner itself (scripts/test.js): the deliberately broken suites of tests/fixtures/runner
// (a beforeAll that throws, an afterAll that throws, a file that fails to import, an unhandled
// rejection, beside one passing and one skipped test) must come out as failures, in Node and in
// Chrome: exit status 1 and a last line with exactly their counts. The passing fixture alone must
// come out clean, so that the runner is shown to tell the two apart; a run that finds no test file
// fails (in Node this is vitest's exit code, with nothing else to count).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { resolveBrowser } from '../../src/testing/index.ts';

function runner(...args: string[]) {
  // The child vitest must not think it is a worker of this one.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'GRAFT_FAILURES_OUT'));
  const r = spawnSync(process.execPath, ['scripts/test.js', '--fixtures', ...args], { encoding: 'utf8', timeout: 300_000, env });
  const out = `${r.stdout}${r.stderr}`;
  const lines = r.stdout.trimEnd().split('\n');
  return { status: r.status, out, last: lines[lines.length - 1] };
}

// Exactly what the fixtures hold: 3 passing tests (one each in passes, after-all-throws and
// unhandled-rejection), 4 failures (one per broken fixture), 2 skipped (passes' it.skip, and the
// test under the beforeAll that threw, which never ran).
const BROKEN = ['beforeAll throws on purpose', 'afterAll throws on purpose', 'this file fails while it is imported', 'unhandled rejection on purpose'];

async function browserAvailable(): Promise<boolean> {
  return resolveBrowser().then(() => true, () => false);
}
const browser = await browserAvailable();

describe('scripts/test.js counts broken suites as failures', () => {
  for (const where of ['node', 'chrome'] as const) {
    const title = `${where}: a throwing beforeAll / afterAll, a failed import and an unhandled rejection fail the run`;
    if (where === 'chrome' && !browser) {
      it.skip(`${title} (skipped: no Chrome/Chromium found)`, () => {});
      continue;
    }
    it(title, () => {
      const r = runner(`--${where}`);
      expect(r.status, r.out).toBe(1);
      expect(r.last).toBe('3 passed, 4 failed, 2 skipped');
      for (const m of BROKEN) expect(r.out).toContain(`fixture: ${m}`);
      expect(r.out).toContain('Skipped:\n');
      expect(r.out).toContain('passes.fixture.ts > is skipped (skipped: fixture reason)');
      expect(r.out).toContain('would pass if the hook had worked (not run: its');
    });
    it(`${where}: the passing fixture alone passes, and its skip is listed with its reason`, () => {
      const r = runner(`--${where}`, '--filter', 'passes');
      expect(r.status, r.out).toBe(0);
      expect(r.last).toBe('1 passed, 0 failed, 1 skipped');
      expect(r.out).toContain('passes.fixture.ts > is skipped (skipped: fixture reason)');
    });
    it(`${where}: a filter that matches no test file fails the run`, () => {
      const r = runner(`--${where}`, '--filter', 'matches-no-fixture');
      expect(r.status, r.out).toBe(1);
      expect(r.last).toBe('0 passed, 1 failed, 0 skipped');
      // Node: vitest exits 1 with nothing to count, which the runner counts as one failure, saying why.
      expect(r.out).toMatch(where === 'node' ? /vitest reported failure \(exit code 1, success false\)/ : /no test file matches the filter matches-no-fixture/);
    });
  }
});
