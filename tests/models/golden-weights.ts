// The weights of the PyTorch goldens, computed here bit for bit as weights-tools/golden.py does
// (see its header for the formula), and the comparison of a run against a fixture.
import { backward } from '../../src/graph/autograd.ts';
import type { Gpu } from '../../src/graph/gpu.ts';
import type { Module } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { type Tensor, noGrad, scope } from '../../src/graph/tensor.ts';
import { BatchNorm2d, Conv2d, Dropout, Linear } from '../../src/models/layers.ts';
import { BasicBlock, Bottleneck, ResNet } from '../../src/models/resnet.ts';
import type { HostTensor } from '../../src/weights/state-dict.ts';
import { loadStateDict } from '../../src/weights/state-dict.ts';
import { VGG, type VggDepth } from '../../src/models/vgg.ts';
import { expectClose } from '../helpers.ts';

const MODULUS = 1000003;
const STEP = 618035;
const HALF = 500001;

export function nameKey(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % MODULUS;
  return h;
}

/** float32(offset + scale * u_i) for i < n, u_i = ((i * 618035 + key(name)) % 1000003 - 500001) / 500001. */
export function formula(name: string, n: number, offset: number, scale: number): Float32Array {
  // r = (i * STEP + key) % MODULUS advances by STEP mod MODULUS: exact integers, the same r as the
  // direct formula; then the same two float64 operations as numpy and one rounding to float32.
  const out = new Float32Array(n);
  let r = nameKey(name);
  for (let i = 0; i < n; i++) {
    out[i] = offset + scale * ((r - HALF) / HALF);
    r += STEP;
    if (r >= MODULUS) r -= MODULUS;
  }
  return out;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Every parameter and buffer of a model from the formula, by module type (as golden.py's fill_formula). */
export function formulaStateDict(model: Module): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  // The last BatchNorm2d of each ResNet block gets a small gain (see golden.py).
  const residual = new Set<string>();
  for (const [name, m] of model.namedModules()) {
    if (m instanceof BasicBlock) residual.add(`${name}.bn2`);
    if (m instanceof Bottleneck) residual.add(`${name}.bn3`);
  }
  const put = (name: string, shape: readonly number[], offset: number, scale: number) =>
    out.set(name, { shape: [...shape], dtype: 'f32', data: formula(name, numel(shape), offset, scale) });
  for (const [mname, m] of model.namedModules()) {
    const prefix = mname ? `${mname}.` : '';
    if (m instanceof Conv2d || m instanceof Linear) {
      const shape = m.weight.shape;
      put(`${prefix}weight`, shape, 0, Math.sqrt(6 / (numel(shape) / shape[0])));
      if (m.bias) put(`${prefix}bias`, m.bias.shape, 0, 0.1);
    } else if (m instanceof BatchNorm2d) {
      const c = [m.numFeatures];
      if (residual.has(mname)) put(`${prefix}weight`, c, 0.1, 0.05);
      else put(`${prefix}weight`, c, 1, 0.25);
      put(`${prefix}bias`, c, 0, 0.1);
      put(`${prefix}running_mean`, c, 0, 0.1);
      put(`${prefix}running_var`, c, 1, 0.5);
      out.set(`${prefix}num_batches_tracked`, { shape: [], dtype: 'i32', data: new Int32Array(1) });
    }
  }
  return out;
}

/** Sum of float32 bit patterns mod 2^32 (golden.py's bits_checksum). */
export function bitsChecksum(values: Float32Array): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let s = 0;
  for (let i = 0; i < bits.length; i++) s = (s + bits[i]) % 4294967296;
  return s;
}

// ---- fixtures ----------------------------------------------------------------------------------

export interface Summary {
  shape: number[];
  sum: number;
  abssum: number;
  /** float32 base64: every value (<= 256 elements) or the samples at (j * 1000003) % n. */
  values: string;
}

export interface GoldenCase {
  name: string;
  arch: string;
  width?: number;
  hidden?: number;
  classes: number;
  input: number[];
  labels: number[];
  checksums: Record<string, number>;
  eval: { logits: string };
  train: { logits: string; loss: number; grads: Record<string, Summary>; running?: Record<string, Summary> };
}

export function decodeF32(b64: string): Float32Array {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

/** The same network as golden.py's build(case), weights from the formula. */
export function buildGolden(gpu: Gpu, c: GoldenCase): VGG | ResNet {
  const m = /^(vgg|resnet)(\d+)(_bn)?$/.exec(c.arch);
  if (!m) throw new Error(`golden: unknown arch ${c.arch}`);
  const common = { gpu, classes: c.classes, init: 'zeros' as const, width: c.width };
  const net = m[1] === 'vgg' ? new VGG(Number(m[2]) as VggDepth, { ...common, batchNorm: !!m[3], hidden: c.hidden }) : new ResNet(Number(m[2]) as 18, common);
  const weights = formulaStateDict(net);
  for (const [name, sum] of Object.entries(c.checksums)) {
    const values = name === 'input' ? formula('input', numel(c.input), 0, 1) : (weights.get(name)!.data as Float32Array);
    if (bitsChecksum(values) !== sum) throw new Error(`golden ${c.name}: the formula's ${name} differs from golden.py's (checksum ${bitsChecksum(values)} != ${sum})`);
  }
  loadStateDict(net, weights, { source: `formula (${c.name})` });
  return net;
}

/** The sampled (or all) elements of a tensor's values, as golden.py's summary() picks them. */
function pick(values: ArrayLike<number>, count: number): Float64Array {
  const n = values.length;
  if (n <= 256) return Float64Array.from(values);
  const out = new Float64Array(count);
  for (let j = 0; j < count; j++) out[j] = values[(j * 1000003) % n];
  return out;
}

export interface Tolerances {
  /** Logits: |error| <= rel * max |expected logit|. */
  logits: number;
  /** Gradients, running statistics: |error| <= rel * max |expected sample|, and the sums likewise (rel * abssum). */
  grads: number;
}

export interface GoldenRun {
  /** Largest errors seen, relative as the tolerances measure them (reported by the tests). */
  worst: Record<string, number>;
  ms: number;
}

function compare(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, worst: Record<string, number>): void {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  let err = 0;
  for (let i = 0; i < expected.length; i++) err = Math.max(err, Math.abs(actual[i] - expected[i]));
  worst[label] = err / (scale || 1);
  expectClose(actual, expected, { atol: rel * (scale || 1), rtol: 0 }, label);
}

/** Samples against the fixture's, and the sum of all elements within rel * (sum of |elements|). */
function compareSummary(label: string, values: ArrayLike<number>, s: Summary, rel: number, worst: Record<string, number>): void {
  if (values.length !== numel(s.shape)) throw new Error(`${label}: ${values.length} values, fixture shape [${s.shape}]`);
  const expected = decodeF32(s.values);
  compare(label, pick(values, expected.length), expected, rel, worst);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const err = Math.abs(sum - s.sum) / s.abssum;
  worst[`${label} (sum)`] = err;
  if (!(err <= rel)) throw new Error(`${label}: sum of all elements ${sum}, expected ${s.sum} (error ${err.toExponential(3)} of the sum of |elements| ${s.abssum}, allowed ${rel})`);
}

/** Eval-mode logits, then train-mode logits, loss, gradients and running statistics, against the fixture. */
export async function checkGolden(gpu: Gpu, c: GoldenCase, tol: Tolerances): Promise<GoldenRun> {
  const start = performance.now();
  const worst: Record<string, number> = {};
  const net = buildGolden(gpu, c);
  try {
    await scope(async () => {
      const x = gpu.tensor(formula('input', numel(c.input), 0, 1), c.input);
      net.eval();
      const logitsEval = noGrad(() => net.forward(x));
      compare(`${c.name} eval logits`, await logitsEval.data(), decodeF32(c.eval.logits), tol.logits, worst);
      logitsEval.dispose();

      net.train();
      for (const [, m] of net.namedModules()) if (m instanceof Dropout) m.training = false;
      const logits = net.forward(x);
      const loss = ops.softmaxCrossEntropy(logits, gpu.tensor(c.labels, [c.labels.length], 'i32'));
      compare(`${c.name} train logits`, await logits.data(), decodeF32(c.train.logits), tol.logits, worst);
      compare(`${c.name} train loss`, [await loss.item()], [c.train.loss], tol.logits, worst);
      backward(loss);
      const params = new Map(net.namedParameters());
      for (const [name, s] of Object.entries(c.train.grads)) {
        const grad = params.get(name)?.grad as Tensor | null | undefined;
        if (!grad) throw new Error(`${c.name}: no gradient for ${name}`);
        compareSummary(`${c.name} grad ${name}`, await grad.data(), s, tol.grads, worst);
      }
      const buffers = new Map(net.namedBuffers());
      for (const [name, s] of Object.entries(c.train.running ?? {})) compareSummary(`${c.name} ${name}`, await buffers.get(name)!.data(), s, tol.grads, worst);
    });
  } finally {
    net.dispose();
  }
  return { worst, ms: performance.now() - start };
}
