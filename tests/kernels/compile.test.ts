// Every kernel of every family compiles on this adapter with its default template constants.
import { describe, expect, it } from 'vitest';
import { families } from '../../src/kernels/index.ts';
import { testGpu } from '../helpers.ts';

// Kernels that need a feature this adapter lacks (e.g. subgroups) cannot compile here: one skipped
// test names them and the missing features, so that a machine that checks less says so.
const gpu = await testGpu();
const lacking = Object.values(families).flat().filter((k) => gpu.rt.missingFeatures(k).length);

describe('kernel compilation', () => {
  if (lacking.length) {
    const missing = [...new Set(lacking.flatMap((k) => gpu.rt.missingFeatures(k)))].join(', ');
    it.skip(`${lacking.map((k) => k.name).join(', ')} compile (skipped: this adapter lacks ${missing})`, () => {});
  }

  it('every shader entry point compiles', async () => {
    const gpu = await testGpu();
    const failures: string[] = [];
    let count = 0;
    for (const [family, list] of Object.entries(families)) {
      for (const k of list) {
        // Kernels for features this adapter lacks: the skipped test above lists them.
        if (gpu.rt.missingFeatures(k).length) continue;
        count++;
        const err = await gpu.rt.compileCheck(k);
        if (err) failures.push(`${family}/${k.name}: ${err}`);
      }
    }
    expect(failures).toEqual([]);
    expect(count).toBeGreaterThan(30);
  });
});
