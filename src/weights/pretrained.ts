// Loading pre-trained weights into a model from any supported file, by torchvision name:
//   safetensors (Graft's own format; also timm's files on the Hugging Face hub — timm's ResNets use
//   torchvision's names, so `https://huggingface.co/timm/resnet50.tv_in1k/resolve/main/model.safetensors`
//   loads into models.resnet50 as it is; timm's VGGs do not: their classifier is a ConvMlp),
//   torch.save `.pth`, Keras `.h5` application weights (mapped
//   to torchvision names) and TF.js LayersModel `model.json` (the Darknet family).
// The format is recognised from the bytes (zip, HDF5 signature, safetensors header), or from the
// name for model.json. URL downloads are cached (see source.ts).
import type { Module } from '../graph/module.ts';
import { shapeStr } from '../core/index.ts';
import { type Convention, PREPROCESSING, type Preprocessed } from '../models/preprocess.ts';
import { describeProblems, loadStateDict, type HostTensor, type LoadReport } from './state-dict.ts';
import { isHdf5, parseKerasH5 } from './keras-h5.ts';
import { readLayersModel } from './layers-model.ts';
import { parsePth } from './pth.ts';
import { parseSafetensors } from './safetensors.ts';
import { readSource, sourceName, type ProgressCallback, type ReadOptions, type WeightSource } from '../io/source.ts';
import { fileError, resolveLimits, type WeightFile, type WeightFormat, type WeightLimits } from './weight-file.ts';
import { fetchPublished, isWeightsName, publishedWeights } from './registry.ts';

export interface ReadWeightsOptions extends ReadOptions {
  /** The architecture the weights are for (names the Keras mapping's target; recorded on export). */
  arch?: string;
  /** Skip recognition. */
  format?: WeightFormat;
  /** Size limits checked before anything is allocated (defaults: DEFAULT_LIMITS; raise them for bigger files). */
  limits?: WeightLimits;
  /** For 'imagenet' (published weights): a mirror's base URL or a local folder ($GRAFT_WEIGHTS_BASE_URL otherwise). */
  baseUrl?: string;
}

/** What kind of weight file these bytes are, or null. */
export function sniffFormat(bytes: Uint8Array): WeightFormat | null {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return 'pth';
  if (isHdf5(bytes)) return 'keras-h5';
  if (bytes.length >= 9 && bytes[8] === 0x7b /* { */) return 'safetensors';
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) return 'pth'; // legacy torch.save: the pth reader explains
  return null;
}

function isLayersModelName(name: string): boolean {
  return /\.json([?#].*)?$/i.test(name);
}

/** Read any supported weight file into host tensors under torchvision (Graft) names. */
export async function readWeights(source: WeightSource, options: ReadWeightsOptions = {}): Promise<WeightFile> {
  let name = sourceName(source);
  // 'imagenet' / 'imagenet-keras': the file its publisher put online, for options.arch (src/weights/registry.ts).
  if (isWeightsName(source)) {
    const fetched = await fetchPublished(publishedWeights(options.arch, source), options);
    if (!fetched.bytes) return readWeights(fetched.location, options);
    source = fetched.bytes;
    name = fetched.location;
  }
  if (options.format === 'layers-model' || (typeof source === 'string' || source instanceof URL ? isLayersModelName(name) || (await isLocalDirectory(name)) : false)) {
    return readLayersModelFile(name, options.onProgress, options.limits);
  }
  const bytes = await readSource(source, { maxBytes: resolveLimits(options.limits).maxFileBytes, ...options });
  const format = options.format ?? sniffFormat(bytes);
  let file: WeightFile;
  switch (format) {
    case 'safetensors': file = parseSafetensors(bytes, name, options); break;
    case 'pth': file = await parsePth(bytes, name, options); break;
    case 'keras-h5': file = await parseKerasH5(bytes, name, { arch: options.arch, limits: options.limits }); break;
    default: throw fileError(name, 'unrecognised weight file: expected safetensors, a torch.save zip (.pth), Keras HDF5 (.h5) or a TF.js model.json');
  }
  return stripModulePrefix(file);
}

async function isLocalDirectory(name: string): Promise<boolean> {
  const { isDirectory } = await import('../io/files.ts');
  return isDirectory(name);
}

async function readLayersModelFile(name: string, onProgress?: ProgressCallback, limits?: WeightLimits): Promise<WeightFile> {
  const tensors = await readLayersModel(name, {
    limits,
    onProgress: onProgress && ((fraction, loaded, total) => onProgress(fraction, { loaded, total, source: name, fromCache: false })),
  });
  const fileDtypes = new Map([...tensors].map(([k, t]) => [k, t.dtype === 'f32' ? 'float32' : 'int32']));
  return { format: 'layers-model', source: name, tensors, fileDtypes, metadata: {}, notes: [] };
}

/** nn.DataParallel saves every name under `module.`: drop it when all names have it. */
function stripModulePrefix(file: WeightFile): WeightFile {
  const names = [...file.tensors.keys()];
  if (!names.length || !names.every((n) => n.startsWith('module.'))) return file;
  const rename = <T>(m: Map<string, T>) => new Map([...m].map(([k, v]) => [k.slice('module.'.length), v]));
  return { ...file, tensors: rename(file.tensors), fileDtypes: rename(file.fileDtypes), notes: [...file.notes, "dropped the 'module.' prefix (nn.DataParallel) from every name"] };
}

export interface PretrainedOptions extends ReadWeightsOptions {
  /** Throw when any key is missing, unexpected or mis-shaped (default true); false: load what fits and report. */
  strict?: boolean;
}

export interface PretrainedReport extends LoadReport {
  source: string;
  format: WeightFormat;
  metadata: Record<string, string>;
  /** What a conversion changed (Keras layouts, folded biases, ...). */
  notes: string[];
}

/**
 * Load pre-trained weights from a path, URL or bytes into `model` by name.
 * `onProgress(fraction, { loaded, total })` follows the download; URL downloads are cached unless
 * `cache: false`. Strict by default: every missing, unexpected or mis-shaped key is listed in one error.
 */
export async function loadPretrained(model: Module, source: WeightSource, options: PretrainedOptions = {}): Promise<PretrainedReport> {
  const arch = options.arch ?? ((model as { arch?: unknown }).arch as string | undefined);
  const file = await readWeights(source, { ...options, arch: typeof arch === 'string' ? arch : undefined });
  addBatchCounters(model, file);
  let report: LoadReport;
  try {
    report = loadStateDict(model, file.tensors, { strict: options.strict ?? true, source: file.source });
  } catch (e) {
    if (file.notes.length && e instanceof Error) e.message += `\n  notes on the conversion:\n    ${file.notes.join('\n    ')}`;
    throw e;
  }
  const notes = [...file.notes];
  adoptPreprocessing(model, file.metadata.preprocessing, notes);
  adoptSavedModel(model, file.metadata);
  return { ...report, source: file.source, format: file.format, metadata: file.metadata, notes };
}

/** A model saved by Graft (models/saved.ts) names its classes and preprocessing: the model takes them. */
function adoptSavedModel(model: Module, metadata: Record<string, string>): void {
  const carrier = model as { labels?: string[] | null; preprocessing?: unknown };
  try {
    if (metadata['graft.classes'] && 'labels' in carrier) carrier.labels = JSON.parse(metadata['graft.classes']) as string[];
    if (metadata['graft.preprocessing'] && carrier.preprocessing) carrier.preprocessing = JSON.parse(metadata['graft.preprocessing']);
  } catch {
    // Not valid JSON: the weights loaded; the names and preprocessing stay as they were.
  }
}

/**
 * Files older than torch 0.4.1 (torchvision's classic ResNet/VGG .pth files among them) and some timm
 * files have no BatchNorm `num_batches_tracked`; torch's own loader puts 0 there, and so do we.
 */
function addBatchCounters(model: Module, file: WeightFile): void {
  let added = 0;
  for (const name of model.stateDict().keys()) {
    if (!name.endsWith('.num_batches_tracked') || file.tensors.has(name)) continue;
    if (!file.tensors.has(name.replace(/num_batches_tracked$/, 'running_mean'))) continue;
    file.tensors.set(name, { shape: [], dtype: 'i32', data: new Int32Array(1) });
    added++;
  }
  if (added) file.notes.push(`the file has no num_batches_tracked: set ${added} BatchNorm counters to 0, as torch does`);
}

/**
 * Weights trained with another input convention (Keras' 'caffe': BGR, 0-255 minus the mean) are
 * only right with that preprocessing: a model that carries its preprocessing takes the file's,
 * keeping its input size.
 */
function adoptPreprocessing(model: Module, convention: string | undefined, notes: string[]): void {
  const carrier = model as Partial<Preprocessed>;
  if (!convention || !(convention in PREPROCESSING) || !carrier.preprocessing) return;
  const wanted = PREPROCESSING[convention as Convention];
  const current = carrier.preprocessing;
  if (current.channels === wanted.channels && current.mean.join() === wanted.mean.join() && current.scale === wanted.scale && current.std.join() === wanted.std.join()) return;
  carrier.preprocessing = { ...wanted, size: current.size };
  notes.push(`the model's preprocessing is now '${convention}', as the weights expect`);
}

/** Missing / unexpected / mis-shaped names of `tensors` against expected shapes, as loadStateDict judges them. */
export function compareShapes(expected: Map<string, readonly number[]>, tensors: Map<string, Pick<HostTensor, 'shape'>>): LoadReport {
  const report: LoadReport = { missing: [], unexpected: [], mismatched: [], loaded: 0 };
  const count = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) report.missing.push(name);
    else if (shape.join() !== t.shape.join() && !(count(shape) === 1 && count(t.shape) === 1)) {
      report.mismatched.push(`${name}: expected ${shapeStr(shape)}, got ${shapeStr(t.shape)}`);
    } else report.loaded++;
  }
  for (const name of tensors.keys()) if (!expected.has(name)) report.unexpected.push(name);
  return report;
}

export { describeProblems };
