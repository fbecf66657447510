// Every kernel of every family compiles on this adapter with its default template constants.
import { describe, expect, it } from 'vitest';
import { families } from '../../src/kernels/index.ts';
import { testGpu } from '../helpers.ts';

describe('kernel compilation', () => {
  it('every shader entry point compiles', async () => {
    const gpu = await testGpu();
    const failures: string[] = [];
    let count = 0;
    for (const [family, list] of Object.entries(families)) {
      for (const k of list) {
        // Kernels for features this adapter lacks (e.g. subgroups) are never chosen here.
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
