// A/B of the subgroup conv kernels on whole networks, in one process: resnet18 (random weights)
// eval forward b1 at `image` and an SGD step (all trainable) b8 at image/2, with the shaders at a
// git revision (default HEAD) and in the working tree, alternating; medians of `reps`.
//   node --import ./scripts/register.js bench/probes/model-ab.ts [reps=4] [rev=HEAD] [image=224] [arch=resnet18] [forward|step|both]
import { backward, noGrad, ops, zeroGrad } from '../../src/index.ts';
import { graft } from '../../src/node.ts';
import { resnet18, resnet50, vgg16 } from '../../src/models/index.ts';
import { convShaderSwap } from './shader-swap.ts';

const reps = Number(process.argv[2] ?? 4);
const rev = process.argv[3] ?? 'HEAD';
const image = Number(process.argv[4] ?? 224);
const arch = process.argv[5] ?? 'resnet18';
const which = process.argv[6] ?? 'both';
const gpu = await graft();
const swap = convShaderSwap(rev);
// Two copies: training-mode forwards update batchnorm's running statistics, which the eval
// forward reads.
const build = arch === 'vgg16' ? vgg16 : arch === 'resnet50' ? resnet50 : resnet18;
const evalNet = build({ gpu, seed: 1 });
const net = build({ gpu, seed: 1 });
const params = net.trainableParameters();
const x1 = gpu.randn([1, 3, image, image], { seed: 1 });
const x8 = gpu.randn([8, 3, image / 2, image / 2], { seed: 2 });
const labels = ops.labels(gpu, Array.from({ length: 8 }, (_, i) => i), 1000);
const cases: Record<string, () => Promise<number>> = {
  [`forward b1 ${image}`]: async () => {
    evalNet.eval();
    return noGrad(async () => {
      const y = evalNet.forward(x1);
      const v = (await y.data())[0];
      y.dispose();
      return v;
    });
  },
  [`SGD step b8 ${image / 2}`]: async () => {
    net.train();
    zeroGrad(params);
    const loss = ops.softmaxCrossEntropy(net.forward(x8), labels);
    backward(loss);
    const v = (await loss.data())[0];
    loss.dispose();
    // The update is not applied: every run starts from the same weights.
    return v;
  },
};
for (const name of Object.keys(cases)) if (which !== 'both' && !name.startsWith(which === 'step' ? 'SGD' : 'forward')) delete cases[name];
const ts: Record<string, number[]> = {};
const vals: Record<string, number> = {};
for (let r = 0; r <= reps; r++) {
  for (const side of r % 2 ? [...swap.sides].reverse() : swap.sides) {
    swap.use(side);
    for (const [name, run] of Object.entries(cases)) {
      const t = performance.now();
      const v = await run();
      const dt = performance.now() - t;
      if (r === 0) vals[`${name} ${side}`] = v;
      else (ts[`${name} ${side}`] ??= []).push(dt);
    }
  }
}
const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
for (const name of Object.keys(cases)) {
  const [a, b] = swap.sides.map((s) => ts[`${name} ${s}`]);
  const [va, vb] = swap.sides.map((s) => vals[`${name} ${s}`]);
  console.log(`${arch} ${name.padEnd(18)} ${rev}: ${med(a).toFixed(0)} ms (min ${Math.min(...a).toFixed(0)})  tree: ${med(b).toFixed(0)} ms (min ${Math.min(...b).toFixed(0)})  tree/${rev}: ${(med(b) / med(a)).toFixed(2)}  first value ${va.toPrecision(6)} / ${vb.toPrecision(6)}`);
}
process.exit(0);
