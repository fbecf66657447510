// The register blocks in shaders/ are written by scripts/gemm-block.js; a hand edit, or a changed
// generator whose output was not written, fails here.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JS script without type declarations
import { BLOCKS, blockFile, gemmBlock } from '../../scripts/gemm-block.js';

type Block = [number, number, string, number[]];

describe('generated register blocks', () => {
  it('each shaders/gemm_<R>x<C>.wgsl is what scripts/gemm-block.js writes', () => {
    expect(BLOCKS.length).toBeGreaterThan(0);
    for (const [rows, cols, user, steps] of BLOCKS as Block[]) {
      expect(fs.readFileSync(blockFile(rows, cols), 'utf8'), `gemm_${rows}x${cols}.wgsl`).toBe(gemmBlock(rows, cols, user, steps));
    }
  });

  it('every multiply_add<n> updates each accumulator once per step, steps in order; each is read back', () => {
    for (const [rows, cols, user, steps] of BLOCKS as Block[]) {
      const text: string = gemmBlock(rows, cols, user, steps);
      const fns = text.split(/\nfn /).filter((f) => f.startsWith('multiply_add'));
      expect(fns.map((f) => (f.match(/: Step/g) ?? []).length), `gemm_${rows}x${cols} multiply-add functions`).toEqual(steps);
      for (const f of fns) {
        const n = (f.match(/: Step/g) ?? []).length;
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const acc = `r${r}c${c}`;
            // Step i's product uses step i's broadcast A values (a<i>..) and its B values (s<i>.b..).
            const updates = [...f.matchAll(new RegExp(`${acc} \\+= a(\\d)\\d\\d\\.\\w \\* s(\\d)\\.b`, 'g'))].map((m) => [Number(m[1]), Number(m[2])]);
            expect(updates, `${acc} in a ${n}-step call`).toEqual(Array.from({ length: n }, (_, i) => [i, i]));
          }
        }
      }
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) expect(text.includes(`var<private> r${r}c${c}: f32;`), `r${r}c${c}`).toBe(true);
        expect(text).toContain(`case ${r}u`.replace(`case ${rows - 1}u`, 'default'));
      }
    }
  });
});
