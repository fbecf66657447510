// The autograd core: topological order from the loss over tensors that require a gradient,
// a reverse walk applying the rules of rules.ts, accumulation into leaves' .grad.
import { GraftError, shapeStr } from '../core/index.ts';
import { axpby } from '../kernels/elementwise.ts';
import { fill } from '../kernels/elementwise.ts';
import { type Tensor, Tensor as TensorClass, keep, noGrad, scope } from './tensor.ts';
import { rules } from './rules.ts';

/** Tensors reachable from `root` through ops that need a gradient, inputs before outputs. */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    // Only walk into inputs that lead to a parameter needing a gradient.
    if (t.node) for (const x of t.node.inputs) if (x.requiresGrad && !seen.has(x)) stack.push([x, false]);
  }
  return order;
}

/**
 * Fill `.grad` of every leaf that requires a gradient with d(root)/d(leaf), adding to what is
 * there. root must have one element unless `seed` (d(loss)/d(root)) is given.
 */
export function backward(root: Tensor, seed?: Tensor): void {
  if (!root.requiresGrad) throw new GraftError('backward: the tensor does not require a gradient (nothing trainable led to it, or it was made under noGrad)');
  if (!seed && root.size !== 1) throw new GraftError(`backward: root has shape ${shapeStr(root.shape)}; give a seed gradient or reduce to one element`);
  if (seed && seed.shape.join() !== root.shape.join()) throw new GraftError(`backward: seed expected ${shapeStr(root.shape)}, got ${shapeStr(seed.shape)}`);
  const rt = root.rt;
  noGrad(() =>
    scope(() => {
      const grads = new Map<Tensor, Tensor>();
      // How many entries of `grads` hold each gradient tensor (rules may pass one through to
      // several inputs): a leaf may take a gradient over only when nothing else holds it.
      const holders = new Map<Tensor, number>();
      const hold = (t: Tensor, g: Tensor) => {
        grads.set(t, g);
        holders.set(g, (holders.get(g) ?? 0) + 1);
      };
      const seedGrad = seed ?? new TensorClass(rt, fill(rt, root.shape, 1));
      hold(root, seedGrad);
      if (seed) holders.set(seed, Infinity); // the caller's tensor is never taken
      const order = topoOrder(root);
      for (let i = order.length - 1; i >= 0; i--) {
        const t = order[i];
        const g = grads.get(t);
        if (!g) continue;
        if (!t.node) {
          accumulateLeaf(t, g, holders.get(g) === 1);
          continue;
        }
        if (t.isDisposed) throw new GraftError(`backward: an intermediate tensor of shape ${shapeStr(t.shape)} (op ${t.node.op}) was disposed before backward; run forward and backward in one scope`);
        const rule = rules[t.node.op];
        if (!rule) throw new GraftError(`backward: no rule for op '${t.node.op}'`);
        const needs = t.node.inputs.map((x) => x.requiresGrad);
        const inGrads = rule(g, t.node, needs, t);
        t.node.inputs.forEach((x, k) => {
          const gx = inGrads[k];
          if (!needs[k] || !gx) return;
          if (gx.shape.join() !== x.shape.join()) throw new GraftError(`backward: rule '${t.node!.op}' gave a gradient of shape ${shapeStr(gx.shape)} for input ${k} of shape ${shapeStr(x.shape)}`);
          const prev = grads.get(x);
          hold(x, prev ? new TensorClass(rt, axpby(rt, 1, prev, 1, gx)) : gx);
        });
      }
    }),
  );
}

/** Add g into leaf.grad; take g over (no copy) when nothing else holds it. */
function accumulateLeaf(leaf: Tensor, g: Tensor, owned: boolean): void {
  const rt = leaf.rt;
  if (leaf.grad) {
    const sum = new TensorClass(rt, axpby(rt, 1, leaf.grad, 1, g));
    leaf.grad.dispose();
    leaf.grad = keep(sum);
  } else {
    leaf.grad = keep(owned ? g : new TensorClass(rt, axpby(rt, 1, g, 0, g)));
  }
}

/** Dispose the gradients of these tensors. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}
