// Softmax cross-entropy on a classifier's logits [N, classes] with integer labels, mean over the
// batch: the loss alone, and the loss with d(loss)/d(logits). tfjs takes one-hot labels
// (tf.losses.softmaxCrossEntropy); they are built once, outside timing.
import { backward, ops, zeroGrad } from '../../src/index.ts';
import { randint, randn } from '../data.ts';
import { type Workload, graftInstance, lazy, tfInstance } from '../workload.ts';

export function softmaxWorkloads(shapes: [number, number][]): Workload[] {
  const out: Workload[] = [];
  for (const [n, classes] of shapes) {
    const data = lazy(() => ({ logits: randn(n * classes, 41, 3), labels: randint(n, 42, classes) }));
    const base = { family: 'softmax' as const, release: data.release, tolerance: 1e-4 };
    const label = `${n}x${classes}`;
    const graftInputs = (gpu: Parameters<Workload['graft']>[0]) => ({
      logits: gpu.tensor(data.get().logits, [n, classes]),
      labels: ops.labels(gpu, data.get().labels, classes),
    });
    const tfInputs = (tf: Parameters<Workload['tfjs']>[0]) => ({
      logits: tf.tensor2d(data.get().logits, [n, classes]),
      onehot: tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(data.get().labels, 'int32'), classes), 'float32')),
    });

    out.push({
      ...base,
      id: `softmax.ce/${label}`,
      title: `softmax cross-entropy ${label}`,
      flops: 5 * n * classes,
      outputs: 'loss',
      graft: (gpu) => {
        const t = graftInputs(gpu);
        return graftInstance([t.logits, t.labels], () => [ops.softmaxCrossEntropy(t.logits, t.labels)]);
      },
      tfjs: (tf) => {
        const t = tfInputs(tf);
        return tfInstance(tf, [t.logits, t.onehot], () => [tf.losses.softmaxCrossEntropy(t.onehot, t.logits)]);
      },
    });

    out.push({
      ...base,
      id: `softmax.ce-grad/${label}`,
      title: `softmax cross-entropy fwd+bwd ${label}`,
      flops: 8 * n * classes,
      outputs: 'loss, dlogits',
      graft: (gpu) => {
        const t = graftInputs(gpu);
        t.logits.requiresGrad = true;
        return graftInstance([t.logits, t.labels], () => {
          zeroGrad([t.logits]);
          const loss = ops.softmaxCrossEntropy(t.logits, t.labels);
          backward(loss);
          return [loss, t.logits.grad!];
        });
      },
      tfjs: (tf) => {
        const t = tfInputs(tf);
        const valueAndGrad = tf.valueAndGrad((logits: ReturnType<typeof tf.tensor2d>) => tf.losses.softmaxCrossEntropy(t.onehot, logits));
        return tfInstance(tf, [t.logits, t.onehot], () => {
          const { value, grad } = valueAndGrad(t.logits);
          return [value, grad];
        });
      },
    });
  }
  return out;
}
