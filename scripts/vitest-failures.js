// A vitest reporter for scripts/test.js: what vitest's JSON report leaves out. It writes, to the
// file named by GRAFT_FAILURES_OUT, every suite or file that failed outside a test (a beforeAll /
// afterAll that threw, a file that failed to import), every unhandled error, and every skipped test
// with its name (the reason is part of the name, by this repository's convention).
import fs from 'node:fs';
import path from 'node:path';

const message = (e) => (e?.message ?? String(e)).split('\n')[0];

export default class FailuresReporter {
  onInit(vitest) {
    this.root = vitest.config.root;
  }

  onTestRunEnd(testModules, unhandledErrors, reason) {
    const out = process.env.GRAFT_FAILURES_OUT;
    if (!out) return;
    const suiteErrors = [];
    const skipped = [];
    for (const module of testModules) {
      const file = path.relative(this.root, module.moduleId);
      if (module.errors().length) suiteErrors.push({ file, suite: '(file)', messages: module.errors().map(message) });
      for (const suite of module.children.allSuites()) {
        if (suite.errors().length) suiteErrors.push({ file, suite: suite.fullName, messages: suite.errors().map(message) });
      }
      for (const test of module.children.allTests('skipped')) skipped.push({ file, name: test.fullName, note: test.result().note ?? (test.options.mode === 'run' ? 'not run: its suite failed' : '') });
    }
    const unhandled = unhandledErrors.map((e) => ({ message: message(e), file: e.VITEST_TEST_PATH ? path.relative(this.root, e.VITEST_TEST_PATH) : '' }));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify({ reason, suiteErrors, unhandled, skipped }, null, 1));
  }
}
