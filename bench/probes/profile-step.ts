// Where a network's GPU time goes: gpu.profile over an eval forward b1 224 ('eval') or an SGD step b8 112
// ('train'); argv[3]: resnet18 (default) or vgg16.
import { backward, noGrad, ops, zeroGrad } from '../../src/index.ts';
import { graft } from '../../src/node.ts';
import { resnet18, vgg16 } from '../../src/models/index.ts';
import { sgdStep } from '../../src/train/sgd.ts';
const gpu = await graft();
const which = process.argv[2] ?? 'train';
const net = process.argv[3] === 'vgg16' ? vgg16({ gpu, seed: 1 }) : resnet18({ gpu, seed: 1 });
const show = (title: string, p: { kernels: { name: string; dispatches: number; ms: number }[]; gpuMs: number; wallMs: number }) => {
  console.log(`${title}: wall ${p.wallMs.toFixed(0)} ms, GPU ${p.gpuMs.toFixed(0)} ms`);
  for (const k of p.kernels) console.log(`  ${k.name.padEnd(40)} ${String(k.dispatches).padStart(4)}  ${k.ms.toFixed(1).padStart(8)} ms  ${(100 * k.ms / p.gpuMs).toFixed(1).padStart(5)}%`);
};
if (which === 'eval') {
  net.eval();
  const x = gpu.randn([1, 3, 224, 224], { seed: 1 });
  await noGrad(async () => { const y = net.forward(x); await gpu.sync(); y.dispose(); });
  show('eval b1 224', await gpu.profile(() => noGrad(() => { const y = net.forward(x); return gpu.sync().then(() => y.dispose()); })));
} else {
  net.train();
  const params = net.trainableParameters();
  const x = gpu.randn([8, 3, 112, 112], { seed: 1 });
  const labels = ops.labels(gpu, Array.from({ length: 8 }, (_, i) => i), 1000);
  const step = () => { zeroGrad(params); const loss = ops.softmaxCrossEntropy(net.forward(x), labels); backward(loss); sgdStep(params, 0.01); loss.dispose(); };
  step(); await gpu.sync();
  show('train step b8 112', await gpu.profile(async () => { step(); await gpu.sync(); }));
}
process.exit(0);
