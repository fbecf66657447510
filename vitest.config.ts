import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // The sources run directly here, not through src/node.ts: register Node's services the same way.
    setupFiles: ['tests/setup-node.ts'],
    // One GPU device per worker is plenty on SwiftShader: run the files one after another.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
