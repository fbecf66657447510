// The smallest page that embeds Graft: open the GPU, run a few ops, show the adapter and stats.
import { graft, ops, scope } from '../../src/index.ts';

const out = document.getElementById('out')!;
try {
  const gpu = await graft();
  const value = await scope(async () => {
    const x = gpu.randn([4, 3, 8, 8], { seed: 7 });
    return ops.mean(ops.relu(x)).item();
  });
  out.textContent = JSON.stringify({ adapter: gpu.adapter, meanRelu: value, stats: gpu.stats() }, null, 2);
} catch (e) {
  out.textContent = `error: ${(e as Error).message}`;
}
