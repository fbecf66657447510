// The register blocks in shaders/ are written by scripts/gemm-block.js; a hand edit, or a changed
// generator whose output was not written, fails here.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JS script without type declarations
import { BLOCKS, blockFile, gemmBlock } from '../../scripts/gemm-block.js';

describe('generated register blocks', () => {
  it('each shaders/gemm_<R>x<C>.wgsl is what scripts/gemm-block.js writes', () => {
    expect(BLOCKS.length).toBeGreaterThan(0);
    for (const [rows, cols, user] of BLOCKS as [number, number, string][]) {
      expect(fs.readFileSync(blockFile(rows, cols), 'utf8'), `gemm_${rows}x${cols}.wgsl`).toBe(gemmBlock(rows, cols, user));
    }
  });

  it('every accumulator of a block is updated once per step and read back', () => {
    for (const [rows, cols, user] of BLOCKS as [number, number, string][]) {
      const text: string = gemmBlock(rows, cols, user);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const acc = `r${r}c${c}`;
          expect(text.split(`${acc} += `).length - 1, acc).toBe(1);
          expect(text.includes(`var<private> ${acc}: f32;`), acc).toBe(true);
        }
        expect(text).toContain(`case ${r}u`.replace(`case ${rows - 1}u`, 'default'));
      }
    }
  });
});
