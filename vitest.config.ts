import { defineConfig } from 'vitest/config';

// GRAFT_TEST_FIXTURES=1 (set by `node scripts/test.js --fixtures`) runs the deliberately broken suites
// of tests/fixtures/runner instead: the runner's own test checks that it reports them as failures.
// They are *.fixture.ts files, so the normal run never picks them up.
const fixtures = process.env.GRAFT_TEST_FIXTURES === '1';

export default defineConfig({
  test: {
    include: fixtures ? ['tests/fixtures/runner/*.fixture.ts'] : ['tests/**/*.test.ts'],
    // The sources run directly here, not through src/node.ts: register Node's services the same way.
    setupFiles: ['tests/setup-node.ts'],
    // One GPU device per worker is plenty on SwiftShader: run the files one after another.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
