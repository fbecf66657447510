// model.summary() in the Keras style: each module (dotted torchvision name, type), its output shape
// for an input [1, 3, H, W], its parameters and trainable parameters, then the totals. Output shapes
// come from one forward pass of zeros in eval mode without gradients: every module's forward is
// wrapped for that pass only, recording the shape of what it returns.
import { shapeStr } from '../core/index.ts';
import type { Module } from '../graph/module.ts';
import type { Tensor } from '../graph/tensor.ts';
import { noGrad, scope } from '../graph/tensor.ts';
import { withoutFusion } from './layers.ts';

export interface SummaryRow {
  /** Dotted name ('layer1.0.conv1'); '' is the model itself. */
  name: string;
  type: string;
  /** Depth in the module tree (1 for the model's direct children). */
  depth: number;
  /** Output shape of the last call during the summary's forward pass; null if its forward never ran (e.g. a ReLU module whose op is applied inline). */
  outputShape: number[] | null;
  /** Parameters of the module and everything under it. */
  parameters: number;
  trainable: number;
}

export interface ModelSummary {
  name: string;
  input: number[];
  rows: SummaryRow[];
  totalParameters: number;
  trainableParameters: number;
  nonTrainableParameters: number;
  /** Values held in buffers (BatchNorm running statistics): not parameters, as in Keras/torch. */
  bufferValues: number;
  outputShape: number[];
}

interface Summarisable extends Module {
  readonly gpu: { zeros(shape: readonly number[]): Tensor };
  readonly arch?: string;
}

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The summary of `model` for one [1, 3, size[0], size[1]] input. */
export async function summarize(model: Summarisable, size: readonly [number, number]): Promise<ModelSummary> {
  const modules = model.namedModules().filter(([name]) => name !== '');
  const shapes = new Map<string, number[]>();
  const wrapped: Module[] = [];
  for (const [name, m] of modules) {
    const original = m.forward;
    const own = Object.prototype.hasOwnProperty.call(m, 'forward');
    (m as { forward: Module['forward'] }).forward = (...inputs: Tensor[]) => {
      const y = original.apply(m, inputs);
      shapes.set(name, [...y.shape]);
      return y;
    };
    if (!own) wrapped.push(m);
  }
  const wasTraining = model.training;
  model.eval();
  let outputShape: number[];
  try {
    outputShape = await scope(() => noGrad(() => withoutFusion(() => {
      const y = model.forward(model.gpu.zeros([1, 3, size[0], size[1]]));
      return [...y.shape];
    })));
  } finally {
    for (const m of wrapped) delete (m as { forward?: unknown }).forward;
    model.train(wasTraining);
  }
  const rows: SummaryRow[] = modules.map(([name, m]) => {
    const params = m.namedParameters();
    return {
      name,
      type: m.constructor.name,
      depth: name.split('.').length,
      outputShape: shapes.get(name) ?? null,
      parameters: params.reduce((s, [, p]) => s + count(p.shape), 0),
      trainable: params.reduce((s, [, p]) => s + (p.trainable ? count(p.shape) : 0), 0),
    };
  });
  const all = model.namedParameters();
  const totalParameters = all.reduce((s, [, p]) => s + count(p.shape), 0);
  const trainableParameters = all.reduce((s, [, p]) => s + (p.trainable ? count(p.shape) : 0), 0);
  return {
    name: model.arch ?? model.constructor.name,
    input: [1, 3, size[0], size[1]],
    rows,
    totalParameters,
    trainableParameters,
    nonTrainableParameters: totalParameters - trainableParameters,
    bufferValues: model.namedBuffers().reduce((s, [, b]) => s + count(b.shape), 0),
    outputShape,
  };
}

const n = (v: number) => v.toLocaleString('en-US');

/** The summary as a table (Keras's model.summary() layout; nested modules indented). */
export function formatSummary(s: ModelSummary, { maxDepth = Infinity }: { maxDepth?: number } = {}): string {
  const rows = s.rows.filter((r) => r.depth <= maxDepth);
  const cells = rows.map((r) => [`${'  '.repeat(r.depth - 1)}${r.name} (${r.type})`, r.outputShape ? shapeStr(r.outputShape) : '-', n(r.parameters), n(r.trainable)]);
  const head = ['Layer (type)', 'Output shape', 'Param #', 'Trainable'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i >= 2 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ');
  const rule = (ch: string) => ch.repeat(widths.reduce((a, b) => a + b + 2, -2));
  return [
    `Model: ${s.name} (input ${shapeStr(s.input)}, output ${shapeStr(s.outputShape)})`,
    rule('='), line(head), rule('='), ...cells.map(line), rule('='),
    `Total params: ${n(s.totalParameters)}`,
    `Trainable params: ${n(s.trainableParameters)}`,
    `Non-trainable params: ${n(s.nonTrainableParameters)}`,
    `Buffer values (BatchNorm running statistics, not parameters): ${n(s.bufferValues)}`,
  ].join('\n');
}
