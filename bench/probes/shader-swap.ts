// For the A/B probes: swap the subgroup conv kernels between their text at a git revision and the
// working tree, in one process (the pipeline cache compiles a source again when its text changes).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as conv from '../../src/kernels/conv2d.ts';

export function convShaderSwap(rev: string): { sides: string[]; use: (side: string) => void } {
  const atRev = (file: string) => execFileSync('git', ['show', `${rev}:${file}`], { encoding: 'utf8' });
  // The register block file that src/kernels/conv2d.ts appends, at each side.
  const block = (ts: string) => /import gemmBlock from '\.\.\/\.\.\/(shaders\/gemm_\w+\.wgsl)\?raw'/.exec(ts)![1];
  const texts: Record<string, string> = {
    [rev]: `${atRev('shaders/conv2d_subgroup.wgsl')}\n${atRev(block(atRev('src/kernels/conv2d.ts')))}`,
    tree: `${readFileSync('shaders/conv2d_subgroup.wgsl', 'utf8')}\n${readFileSync(block(readFileSync('src/kernels/conv2d.ts', 'utf8')), 'utf8')}`,
  };
  const sources = conv.kernels.filter((k) => k.name.startsWith('conv2d.subgroup.'));
  const names = new Map(sources.map((k) => [k, k.name]));
  const entries = new Map(sources.map((k) => [k, k.entry ?? 'main']));
  return {
    sides: Object.keys(texts),
    use: (side: string) => {
      for (const k of sources) {
        k.wgsl = texts[side];
        k.name = `${names.get(k)}.${side}`;
        // An entry point the other side lacks (forward_3x3 before it existed) runs its general form.
        const e = entries.get(k)!;
        k.entry = texts[side].includes(`fn ${e}(`) ? e : e.replace(/_3x3$/, '');
      }
    },
  };
}
