// State-dict keys and shapes of every VGG and ResNet against torchvision's (fixture written by
// weights-tools/golden.py): a count and a digest for each architecture, and the full list for a few
// so that a mismatch shows its first differing key.
import { describe, expect, it } from 'vitest';
import { createModel } from '../../src/models/index.ts';
import keys from '../fixtures/golden/torchvision-keys.json';
import { testGpu } from '../helpers.ts';

interface ArchKeys {
  count: number;
  digest: number;
  keys?: string[];
}

/** FNV-1a (32 bit) of a string of ASCII characters, as golden.py's fnv1a. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

describe('state-dict keys match torchvision', () => {
  for (const [arch, expected] of Object.entries(keys.archs as Record<string, ArchKeys>)) {
    it(`${arch}: ${expected.count} keys with torchvision's names and shapes`, async () => {
      const gpu = await testGpu();
      // init 'zeros': no random numbers for the 100M+ weights of the VGGs (only names and shapes count).
      const net = createModel(arch, { gpu, init: 'zeros' });
      try {
        const lines = [...net.stateDict()].map(([name, t]) => `${name}:${t.shape.join(',')}`);
        if (expected.keys) expect([...lines].sort()).toEqual([...expected.keys].sort());
        expect(lines.length).toBe(expected.count);
        expect(fnv1a([...lines].sort().map((l) => `${l}\n`).join(''))).toBe(expected.digest);
      } finally {
        net.dispose();
        gpu.rt.trimPool();
      }
    });
  }
});
