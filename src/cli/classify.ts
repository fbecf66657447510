// `graft classify --model <arch> --weights <path> <image> [more images] [--top k] [--json]`:
// the top classes of each image with their probabilities. Weights are anything loadPretrained reads
// (darknet-tiny: its TF.js LayersModel folder or model.json), or a model saved by `graft finetune
// --save` (one safetensors file naming its architecture, classes and preprocessing: no --model
// needed). Class names come from --labels, else from the saved model or labels.txt beside the
// weights, else they are class numbers.
import fs from 'node:fs';
import path from 'node:path';
import { graft } from '../graph/gpu.ts';
import * as ops from '../graph/ops.ts';
import { noGrad, scope } from '../graph/tensor.ts';
import { GraftError } from '../core/index.ts';
import { imageToInput, loadImage } from '../models/image.ts';
import { ARCHS, type ImageClassifier, createModel } from '../models/index.ts';
import { isSavedModel, loadModel } from '../models/saved.ts';
import { readSafetensorsHeader } from '../weights/safetensors.ts';
import { WEIGHT_NAMES, isWeightsName } from '../weights/registry.ts';
import type { Gpu } from '../graph/gpu.ts';
import { loadPretrained } from '../weights/pretrained.ts';
import { type CommandSpec, UsageError, oneOf, positiveInt, runCommand } from './command.ts';
import { type Io, oneLine, processIo, progressPrinter } from './shared.ts';

/** Images per forward pass. */
const BATCH = 8;

interface Ranked {
  index: number;
  label: string;
  probability: number;
}

/** The class names: --labels, or labels.txt beside the weights (folder or file), or null. */
function readLabels(explicit: string | undefined, weights: string): string[] | null {
  if (explicit && !fs.existsSync(explicit)) throw new GraftError(`--labels ${explicit}: no such file`);
  const beside = explicit ? explicit : fs.statSync(weights).isDirectory() ? path.join(weights, 'labels.txt') : path.join(path.dirname(weights), 'labels.txt');
  const file = explicit ?? (fs.existsSync(beside) ? beside : null);
  if (!file) return null;
  if (!fs.existsSync(file)) throw new GraftError(`--labels ${file}: no such file`);
  return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '').split(/\r?\n/).map((l) => l.trim());
}

function checkWeights(weights: string, arch = 'the model'): void {
  if (!fs.existsSync(weights)) throw new GraftError(`--weights ${weights}: no such file or folder`);
  if (fs.statSync(weights).isDirectory() && !fs.existsSync(path.join(weights, 'model.json'))) {
    throw new GraftError(`--weights ${weights}: a folder without model.json (give a TensorFlow.js LayersModel folder or model.json, or a weight file for ${arch})`);
  }
}

export const CLASSIFY: CommandSpec = {
  name: 'classify',
  summary: 'The top classes of images (PNG or JPEG) with their probabilities.',
  positionals: '<image>...',
  minPositionals: 1,
  maxPositionals: Infinity,
  options: {
    model: { type: 'string', short: 'm', value: '<arch>', description: `the architecture (${ARCHS.join(', ')}); not needed for a model saved by graft finetune --save` },
    weights: { type: 'string', short: 'w', value: '<file|folder>', description: `the weights: a weight file, a TF.js model folder, a saved tuned model (.safetensors), or ${WEIGHT_NAMES.join(' / ')} (published files, downloaded once and cached; GRAFT_WEIGHTS_BASE_URL names a mirror)` },
    top: { type: 'string', short: 'k', value: '<k>', default: '5', description: 'how many classes to list per image' },
    labels: { type: 'string', value: '<file>', description: 'class names, one a line (default: labels.txt beside the weights)' },
    json: { type: 'boolean', description: 'print JSON (no progress bar)' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bar' },
  },
};

export function classify(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand(CLASSIFY, argv, async ({ values, flags, positionals }) => {
    const top = positiveInt(values.top, 'top');
    if (!values.weights) throw new UsageError('needs --weights');
    const arch = oneOf(values.model, 'model', ARCHS);
    return run(arch, values.weights, positionals, { top, labels: values.labels, json: flags.json, quiet: flags.quiet }, io);
  }, io);
}

/** A saved tuned model (safetensors with graft.arch and graft.classes in its header), else null. */
async function savedModel(weights: string): Promise<string | null> {
  if (!/\.safetensors$/i.test(weights) || !fs.statSync(weights).isFile()) return null;
  const { metadata } = await readSafetensorsHeader(weights);
  return isSavedModel(metadata) ? metadata['graft.arch'] : null;
}

/** The network and its class names (null: numbers), from a saved model or an architecture + weights. */
async function openModel(gpu: Gpu, arch: string | undefined, weights: string, o: { labels?: string; json: boolean; quiet: boolean }): Promise<{ net: ImageClassifier; labels: string[] | null }> {
  const onProgress = o.json ? undefined : progressPrinter(!o.quiet);
  if (isWeightsName(weights)) {
    // Published weights, downloaded once, checked and cached (src/weights/registry.ts).
    if (!arch) throw new UsageError(`--weights ${weights} needs --model (which architecture's ${weights} weights)`);
    const net = createModel(arch, { gpu, init: 'zeros' }).eval();
    await loadPretrained(net, weights, { onProgress });
    return { net, labels: o.labels ? readLabels(o.labels, o.labels) : net.labels };
  }
  checkWeights(weights, arch);
  const saved = await savedModel(weights);
  if (saved) {
    if (arch && arch !== saved) throw new GraftError(`--model ${arch}, but ${weights} holds a tuned ${saved} (leave --model out)`);
    const net = await loadModel(weights, { gpu, onProgress });
    return { net, labels: o.labels ? readLabels(o.labels, weights) : net.labels };
  }
  if (!arch) throw new UsageError(`needs --model: ${weights} does not name its architecture`);
  const labels = readLabels(o.labels, weights);
  const net = createModel(arch, { gpu, init: 'zeros' }).eval();
  await loadPretrained(net, weights, { onProgress });
  return { net, labels };
}

async function run(arch: string | undefined, weights: string, images: string[], o: { top: number; labels?: string; json: boolean; quiet: boolean }, io: Io): Promise<number> {
  const { top, json } = o;
  const fail = (e: unknown) => io.err(`graft classify: ${oneLine(e)}\n`);
  let gpu;
  try {
    gpu = await graft();
    const { net, labels } = await openModel(gpu, arch, weights, o);
    const prep = net.preprocessing;
    const [h, w] = prep.size;

    // Decode everything first: a broken image is reported and skipped, the others still classified.
    const inputs: { image: string; values: Float32Array }[] = [];
    const errors: { image: string; error: string }[] = [];
    for (const image of images) {
      try {
        inputs.push({ image, values: imageToInput(await loadImage(image), prep, image) });
      } catch (e) {
        errors.push({ image, error: (e as Error).message.replace(/^graft: /, '') });
        fail(e);
      }
    }
    const results: { image: string; top: Ranked[]; probabilities: number[] }[] = [];
    for (let start = 0; start < inputs.length; start += BATCH) {
      const batch = inputs.slice(start, start + BATCH);
      const x = new Float32Array(batch.length * 3 * h * w);
      batch.forEach((b, i) => x.set(b.values, i * 3 * h * w));
      const probs = await scope(async () => {
        const y = noGrad(() => ops.softmax(net.forward(gpu!.tensor(x, [batch.length, 3, h, w]))));
        return await y.data();
      });
      const classes = probs.length / batch.length;
      if (labels && labels.length !== classes) throw new GraftError(`the labels list ${labels.length} classes, the model ${classes}`);
      batch.forEach((b, i) => {
        const p = Array.from(probs.subarray(i * classes, (i + 1) * classes));
        const order = p.map((_, k) => k).sort((a, c) => p[c] - p[a]);
        const ranked = order.slice(0, top).map((index) => ({ index, label: labels?.[index] ?? `class ${index}`, probability: p[index] }));
        results.push({ image: b.image, top: ranked, probabilities: p });
      });
    }
    if (json) {
      io.out(JSON.stringify({ model: net.arch, weights, labels: labels ?? null, results, errors }) + '\n');
    } else {
      const lines: string[] = [];
      for (const r of results) {
        lines.push(r.image);
        for (const t of r.top) lines.push(`  ${(t.probability * 100).toFixed(2).padStart(6)}%  ${t.label}  (${t.index})`);
      }
      io.out(lines.join('\n') + (lines.length ? '\n' : ''));
    }
    net.dispose();
    return errors.length ? 1 : 0;
  } finally {
    gpu?.destroy();
  }
}
