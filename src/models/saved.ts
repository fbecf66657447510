// A tuned model as ONE self-describing safetensors file: the weights under torchvision names, and in
// the header's __metadata__ (string values, as the format requires) what is needed to rebuild it:
//   graft.arch           'resnet18', 'darknet-tiny', ...
//   graft.classes        JSON array of the class names, in output order
//   graft.preprocessing  JSON of the Preprocessing (input size, channel order, scale, mean, std, crop)
// loadModel() reads such a file (path, URL or bytes) and returns the network with the right head,
// its class names as labels and its preprocessing, without being told the architecture or classes.
import { GraftError } from '../core/index.ts';
import type { Gpu } from '../graph/gpu.ts';
import type { ProgressCallback } from '../io/source.ts';
import type { WeightSource } from '../io/source.ts';
import { readWeights } from '../weights/pretrained.ts';
import { encodeSafetensors } from '../weights/safetensors.ts';
import { loadStateDict, readStateDict } from '../weights/state-dict.ts';
import { type ImageClassifier, withHead } from './heads.ts';
import type { Preprocessing } from './image.ts';
import { ARCHS, createModel } from './create.ts';

export const SAVED_KEYS = { arch: 'graft.arch', classes: 'graft.classes', preprocessing: 'graft.preprocessing' } as const;

/** The metadata that makes a weight file self-describing (see the top of this file). */
export function modelMetadata(net: ImageClassifier, classNames: readonly string[]): Record<string, string> {
  return {
    format: 'pt',
    arch: net.arch,
    [SAVED_KEYS.arch]: net.arch,
    [SAVED_KEYS.classes]: JSON.stringify(classNames),
    [SAVED_KEYS.preprocessing]: JSON.stringify(net.preprocessing),
  };
}

/** The model as the bytes of one self-describing safetensors file (write them with any file API). */
export async function encodeModel(net: ImageClassifier, classNames: readonly string[] = net.labels ?? []): Promise<Uint8Array> {
  const classes = await outputs(net);
  if (classNames.length !== classes) throw new GraftError(`encodeModel: ${classNames.length} class names for a model with ${classes} outputs`);
  return encodeSafetensors(await readStateDict(net), modelMetadata(net, classNames));
}

async function outputs(net: ImageClassifier): Promise<number> {
  const params = net.namedParameters();
  const last = params[params.length - 1]?.[1];
  if (!last || last.shape.length !== 1) throw new GraftError(`encodeModel: ${net.arch} does not end with a classifier bias`);
  return last.shape[0];
}

function parseJson<T>(text: string | undefined, key: string, name: string): T {
  try {
    return JSON.parse(text!) as T;
  } catch {
    throw new GraftError(`${name}: the metadata ${key} is not valid JSON`);
  }
}

export interface LoadModelOptions {
  gpu: Gpu;
  onProgress?: ProgressCallback;
  /** Keep URL downloads in the cache (default true). */
  cache?: boolean;
}

/** Is this metadata a self-describing Graft model? */
export function isSavedModel(metadata: Record<string, string>): boolean {
  return SAVED_KEYS.arch in metadata && SAVED_KEYS.classes in metadata;
}

/**
 * Rebuild a model saved by encodeModel / `graft finetune --save`: architecture, head, class names
 * (as `labels`) and preprocessing from the file's metadata; every tensor must load.
 */
export async function loadModel(source: WeightSource, o: LoadModelOptions): Promise<ImageClassifier> {
  const file = await readWeights(source, { onProgress: o.onProgress, cache: o.cache });
  const name = file.source;
  const meta = file.metadata;
  if (!isSavedModel(meta)) {
    throw new GraftError(`${name}: not a self-describing Graft model (no ${SAVED_KEYS.arch} / ${SAVED_KEYS.classes} in its metadata); build the architecture and use loadPretrained(net, file) instead`);
  }
  const arch = meta[SAVED_KEYS.arch];
  if (!(ARCHS as readonly string[]).includes(arch)) throw new GraftError(`${name}: unknown architecture '${arch}' in its metadata (known: ${ARCHS.join(', ')})`);
  const classes = parseJson<string[]>(meta[SAVED_KEYS.classes], SAVED_KEYS.classes, name);
  if (!Array.isArray(classes) || !classes.length || !classes.every((c) => typeof c === 'string')) throw new GraftError(`${name}: ${SAVED_KEYS.classes} must be a non-empty JSON array of names`);
  // A new head on the features (finetune's layout), or the architecture's own classifier with `classes` outputs.
  let net = withHead(createModel(arch, { gpu: o.gpu, includeTop: false, init: 'zeros' }), { classes: classes.length });
  const keys = [...net.stateDict().keys()].sort().join();
  if (keys !== [...file.tensors.keys()].sort().join()) {
    net.dispose();
    net = createModel(arch, { gpu: o.gpu, classes: classes.length, init: 'zeros' });
  }
  try {
    loadStateDict(net, file.tensors, { strict: true, source: name });
  } catch (e) {
    net.dispose();
    throw e;
  }
  net.labels = classes;
  if (meta[SAVED_KEYS.preprocessing]) net.preprocessing = parseJson<Preprocessing>(meta[SAVED_KEYS.preprocessing], SAVED_KEYS.preprocessing, name);
  return net.eval();
}
