// TensorFlow.js LayersModel (model.json + binary shards) -> host tensors under Graft's names.
//
// model.json holds the Keras topology (`modelTopology`) and a `weightsManifest`: groups of weights,
// each group's bytes split over shard files that concatenate, in order, to the group's weights laid
// end to end (little-endian, row-major, in the weight's own dtype or its quantised one).
//
// Layouts: Keras Conv2D kernels are HWIO [kh, kw, in, out] and become OIHW [out, in, kh, kw]; Dense
// kernels are [in, out] and become Linear's [out, in].
//
// Names (the Darknet family: a chain of Conv2D [+ BatchNormalization] [+ activation] blocks and
// MaxPooling2D, then global average pooling and a classifier), numbered like torch.nn.Sequential:
//   i-th feature item = a Conv2D block or a pooling layer, in order;
//   Conv2D kernel/bias             -> features.i.conv.weight / .bias
//   BatchNormalization gamma/beta  -> features.i.bn.weight / .bias
//   moving_mean/moving_variance    -> features.i.bn.running_mean / .running_var
//                                     (+ features.i.bn.num_batches_tracked = 0, as torch saves it)
//   the last Conv2D (1x1, linear) right before GlobalAveragePooling2D, or a Dense after it
//                                  -> classifier.weight [classes, in] / classifier.bias
// A 1x1 convolution followed by a global average equals the average followed by a Linear layer of
// the same weights, so the classifier is a Linear either way.
import { GraftError, shapeStr } from '../core/index.ts';
import { isDirectory, isUrl, localPath, siblingOf } from '../io/files.ts';
import type { HostTensor } from './state-dict.ts';
import { type ReadOptions, readSource } from '../io/source.ts';
import { LimitCounter, type WeightLimits } from './weight-file.ts';

/**
 * A shard path from the manifest, resolved beside model.json. It must stay inside the model's folder:
 * a relative path without '..' segments, schemes, absolute or drive paths, or escaped dots
 * (`../../../../etc/passwd` is refused before anything is read). One exception: a manifest that is
 * itself a `blob:` URL (a page built it from files the user picked, as TF.js's browserFiles does)
 * may name `blob:` shards — in-memory objects of the same page, nothing on a disk or a server.
 */
export function shardLocation(where: string, path: unknown): string {
  if (typeof path !== 'string' || !path) throw new GraftError(`${where}: a shard path in the weights manifest is not a non-empty string`);
  if (/^blob:/i.test(where) && /^blob:/i.test(path)) return path;
  const segments = path.split(/[/\\]/);
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || /^[/\\]/.test(path) || segments.includes('..') || /%2e|%2f|%5c/i.test(path) || path.includes('\0')) {
    throw new GraftError(`${where}: shard path '${path}' leaves the model's folder: shard paths must be relative and stay beside model.json`);
  }
  return siblingOf(where, path);
}

/** One weight of the manifest. */
export interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  /** Quantised storage: value = q * scale + min (uint8/uint16), or raw halves (float16). */
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

export interface ManifestGroup {
  paths: string[];
  weights: ManifestWeight[];
}

export interface LayersModelJson {
  modelTopology: unknown;
  weightsManifest: ManifestGroup[];
  format?: string;
}

export interface KerasLayer {
  className: string;
  name: string;
  config: Record<string, unknown>;
  /** Names of the layers feeding this one. */
  inputs: string[];
}

export interface ReadLayersModelOptions extends Omit<ReadOptions, 'onProgress'> {
  /** Size limits (see WeightLimits); the shards' total must fit maxFileBytes, the weights maxTensors / maxElements. */
  limits?: WeightLimits;
  /** Called as shard bytes arrive: fraction in [0, 1], bytes so far, total bytes of the weights. */
  onProgress?: (fraction: number, loaded: number, total: number) => void;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2 };

/** Bytes a weight takes in its shard. */
export function storedBytes(w: ManifestWeight, where: string): number {
  const dtype = w.quantization?.dtype ?? w.dtype;
  const size = BYTES[dtype];
  if (!size) throw new GraftError(`${where}: weight '${w.name}' has dtype '${dtype}', which Graft cannot read (float32, int32, or quantised uint8/uint16/float16)`);
  return w.shape.reduce((a, b) => a * b, 1) * size;
}

function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Decode one weight's bytes (little-endian) to a host tensor in the Keras layout. */
export function decodeWeight(w: ManifestWeight, bytes: Uint8Array, where: string): HostTensor {
  const n = w.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const q = w.quantization;
  if (!q) {
    if (w.dtype === 'int32') return { shape: [...w.shape], dtype: 'i32', data: Int32Array.from({ length: n }, (_, i) => view.getInt32(4 * i, true)) };
    if (w.dtype !== 'float32') storedBytes(w, where); // throws for unknown dtypes
    return { shape: [...w.shape], dtype: 'f32', data: Float32Array.from({ length: n }, (_, i) => view.getFloat32(4 * i, true)) };
  }
  const data = new Float32Array(n);
  if (q.dtype === 'float16') for (let i = 0; i < n; i++) data[i] = float16ToFloat32(view.getUint16(2 * i, true));
  else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
    if (typeof q.scale !== 'number' || typeof q.min !== 'number') throw new GraftError(`${where}: quantised weight '${w.name}' lacks its scale and min`);
    const { scale, min } = q;
    for (let i = 0; i < n; i++) data[i] = (q.dtype === 'uint8' ? bytes[i] : view.getUint16(2 * i, true)) * scale + min;
  } else storedBytes(w, where);
  const original = q.original_dtype ?? w.dtype;
  return original === 'int32' ? { shape: [...w.shape], dtype: 'i32', data: Int32Array.from(data, Math.round) } : { shape: [...w.shape], dtype: 'f32', data };
}

/** Check model.json's shape: a topology and a weights manifest of groups with paths and weights. */
export function parseLayersModelJson(text: string, where: string): LayersModelJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new GraftError(`${where}: not valid JSON (${(e as Error).message.replace(/\s+/g, ' ').slice(0, 200)})`);
  }
  const j = json as Partial<LayersModelJson>;
  if (!j || typeof j !== 'object' || !j.modelTopology) throw new GraftError(`${where}: no 'modelTopology': not a TensorFlow.js LayersModel`);
  if (!Array.isArray(j.weightsManifest)) throw new GraftError(`${where}: no 'weightsManifest' list: not a TensorFlow.js LayersModel with weights`);
  j.weightsManifest.forEach((g, i) => {
    if (!Array.isArray(g?.paths) || !Array.isArray(g?.weights)) throw new GraftError(`${where}: weightsManifest[${i}] needs 'paths' and 'weights' lists`);
    for (const w of g.weights) {
      if (typeof w?.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new GraftError(`${where}: weightsManifest[${i}] has a weight without a name or a valid shape: ${JSON.stringify(w)}`);
      }
    }
  });
  return j as LayersModelJson;
}

/** Names of the inbound layers, in the Keras 2 form [[[name, node, tensor, {}]]] or Keras 3's keras_history. */
function inboundNames(nodes: unknown): string[] {
  const names: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      if (typeof v[0] === 'string' && typeof v[1] === 'number') names.push(v[0]);
      else v.forEach(walk);
    } else if (v && typeof v === 'object') {
      const history = (v as { keras_history?: unknown }).keras_history;
      if (Array.isArray(history) && typeof history[0] === 'string') names.push(history[0]);
      else Object.values(v).forEach(walk);
    }
  };
  walk(nodes);
  return names;
}

/** The topology's layers in order, for a Functional model whose layers form one chain or a Sequential. */
export function kerasLayers(json: LayersModelJson, where: string): KerasLayer[] {
  const topology = json.modelTopology as { model_config?: unknown; class_name?: string; config?: unknown };
  const model = (topology.model_config ?? topology) as { class_name?: string; config?: unknown };
  const config = model.config as { layers?: unknown[] } | unknown[] | undefined;
  const raw = Array.isArray(config) ? config : config?.layers;
  if (!Array.isArray(raw)) throw new GraftError(`${where}: the topology (${model.class_name ?? 'unknown class'}) has no layer list`);
  const layers = raw.map((l, i) => {
    const layer = l as { class_name?: string; name?: string; config?: Record<string, unknown>; inbound_nodes?: unknown };
    const name = layer.name ?? (layer.config?.name as string | undefined) ?? `layer ${i}`;
    return { className: String(layer.class_name), name, config: layer.config ?? {}, inputs: inboundNames(layer.inbound_nodes ?? []) };
  });
  if (model.class_name !== 'Sequential') {
    for (let i = 1; i < layers.length; i++) {
      const l = layers[i];
      if (l.inputs.length !== 1 || l.inputs[0] !== layers[i - 1].name) {
        throw new GraftError(`${where}: layer '${l.name}' takes [${l.inputs.join(', ')}], not the previous layer '${layers[i - 1].name}': only chains of layers (the Darknet family) are supported`);
      }
    }
  }
  return layers;
}

type Transform = 'none' | 'hwio->oihw' | 'in,out->out,in' | 'hwio1x1->out,in';

/** Where one Keras weight goes: Graft name and layout change. */
export interface WeightMapping {
  keras: string;
  graft: string;
  transform: Transform;
}

/** The Graft names of a Darknet-family topology's weights (see the header for the rules). */
export function mapDarknetLayers(layers: KerasLayer[], where: string): { weights: WeightMapping[]; batchNorms: string[] } {
  const weights: WeightMapping[] = [];
  const batchNorms: string[] = [];
  const map = (layer: KerasLayer, variable: string, graft: string, transform: Transform = 'none') => weights.push({ keras: `${layer.name}/${variable}`, graft, transform });
  let item = 0;
  let block: { index: number; hasBn: boolean } | null = null;
  let head = false;
  let classifier = false;
  // The next layer that computes something (Dropout is the identity at inference).
  const nextLayer = (i: number) => layers.slice(i + 1).find((l) => l.className !== 'Dropout');
  for (const [i, layer] of layers.entries()) {
    const c = layer.config;
    const useBias = c.use_bias !== false;
    switch (layer.className) {
      case 'InputLayer':
      case 'Dropout':
      case 'Flatten':
      case 'Softmax':
      case 'Reshape':
        break;
      case 'LeakyReLU':
      case 'ReLU':
      case 'Activation':
        break;
      case 'Conv2D': {
        if (head || classifier) throw new GraftError(`${where}: Conv2D '${layer.name}' after the global pooling is not supported`);
        if (nextLayer(i)?.className === 'GlobalAveragePooling2D' && (c.activation ?? 'linear') === 'linear') {
          const k = c.kernel_size as number[];
          const s = (c.strides as number[] | undefined) ?? [1, 1];
          if (k.some((d) => d !== 1) || s.some((d) => d !== 1)) throw new GraftError(`${where}: the last Conv2D '${layer.name}' (kernel [${k}], strides [${s}]) before the global pooling must be 1x1, stride 1 to act as the classifier`);
          map(layer, 'kernel', 'classifier.weight', 'hwio1x1->out,in');
          if (useBias) map(layer, 'bias', 'classifier.bias');
          classifier = true;
          block = null;
          break;
        }
        block = { index: item++, hasBn: false };
        map(layer, 'kernel', `features.${block.index}.conv.weight`, 'hwio->oihw');
        if (useBias) map(layer, 'bias', `features.${block.index}.conv.bias`);
        break;
      }
      case 'BatchNormalization': {
        if (!block || block.hasBn) throw new GraftError(`${where}: BatchNormalization '${layer.name}' does not follow a Conv2D`);
        block.hasBn = true;
        const prefix = `features.${block.index}.bn`;
        if (c.scale !== false) map(layer, 'gamma', `${prefix}.weight`);
        if (c.center !== false) map(layer, 'beta', `${prefix}.bias`);
        map(layer, 'moving_mean', `${prefix}.running_mean`);
        map(layer, 'moving_variance', `${prefix}.running_var`);
        batchNorms.push(prefix);
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D':
        if (head) throw new GraftError(`${where}: ${layer.className} '${layer.name}' after the global pooling is not supported`);
        block = null;
        item++;
        break;
      case 'GlobalAveragePooling2D':
        head = true;
        block = null;
        break;
      case 'Dense':
        if (!head) throw new GraftError(`${where}: Dense '${layer.name}' before any global pooling is not supported`);
        if (classifier) throw new GraftError(`${where}: a second classifier layer, Dense '${layer.name}', is not supported`);
        map(layer, 'kernel', 'classifier.weight', 'in,out->out,in');
        if (useBias) map(layer, 'bias', 'classifier.bias');
        classifier = true;
        break;
      default:
        throw new GraftError(`${where}: layer '${layer.name}' is a ${layer.className}, which the Darknet-family converter does not know`);
    }
  }
  return { weights, batchNorms };
}

/** The Keras weight name without scopes or a ':0' suffix: 'layer/variable'. */
const shortName = (name: string) => name.replace(/:\d+$/, '').split('/').slice(-2).join('/');

function transform(t: HostTensor, how: Transform, where: string): HostTensor {
  if (how === 'none') return t;
  const expectRank = (r: number) => {
    if (t.shape.length !== r) throw new GraftError(`${where}: expected a rank-${r} kernel for ${how}, got ${shapeStr(t.shape)}`);
  };
  const src = t.data;
  if (how === 'hwio->oihw') {
    expectRank(4);
    const [kh, kw, ci, co] = t.shape;
    const out = new Float32Array(src.length);
    // src[((y*kw + x)*ci + i)*co + o] -> out[((o*ci + i)*kh + y)*kw + x]
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = src[((y * kw + x) * ci + i) * co + o];
    return { shape: [co, ci, kh, kw], dtype: 'f32', data: out };
  }
  const [rows, cols] = how === 'in,out->out,in' ? (expectRank(2), t.shape) : (expectRank(4), t.shape.slice(2));
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return { shape: [cols, rows], dtype: 'f32', data: out };
}

/**
 * Convert decoded Keras weights (by manifest name) to Graft names and layouts. Every weight the
 * topology needs must be present, and every weight present must be used.
 */
export function layersModelToStateDict(json: LayersModelJson, keras: Map<string, HostTensor>, where: string): Map<string, HostTensor> {
  const { weights, batchNorms } = mapDarknetLayers(kerasLayers(json, where), where);
  const byShort = new Map<string, [string, HostTensor]>();
  for (const [name, t] of keras) byShort.set(shortName(name), [name, t]);
  const out = new Map<string, HostTensor>();
  const missing: string[] = [];
  for (const m of weights) {
    const found = byShort.get(m.keras);
    if (!found) {
      missing.push(m.keras);
      continue;
    }
    byShort.delete(m.keras);
    out.set(m.graft, transform(found[1], m.transform, `${where}: weight '${found[0]}'`));
  }
  const unused = [...byShort.values()].map(([n]) => n);
  if (missing.length || unused.length) {
    const parts = [missing.length ? `missing from the manifest: ${missing.join(', ')}` : '', unused.length ? `in the manifest but used by no layer: ${unused.join(', ')}` : ''];
    throw new GraftError(`${where}: weights do not match the topology (${parts.filter(Boolean).join('; ')})`);
  }
  for (const prefix of batchNorms) {
    const channels = out.get(`${prefix}.running_mean`)!.shape[0];
    if (!out.has(`${prefix}.weight`)) out.set(`${prefix}.weight`, { shape: [channels], dtype: 'f32', data: new Float32Array(channels).fill(1) });
    if (!out.has(`${prefix}.bias`)) out.set(`${prefix}.bias`, { shape: [channels], dtype: 'f32', data: new Float32Array(channels) });
    out.set(`${prefix}.num_batches_tracked`, { shape: [], dtype: 'i32', data: new Int32Array(1) });
  }
  return out;
}

/** Decode every manifest weight from each group's concatenated shard bytes (Keras names and layouts). */
export function decodeManifest(json: LayersModelJson, groupBytes: Uint8Array[], where: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  json.weightsManifest.forEach((group, g) => {
    const bytes = groupBytes[g];
    const need = group.weights.reduce((s, w) => s + storedBytes(w, where), 0);
    if (bytes.length !== need) {
      const files = group.paths.join(' + ');
      throw new GraftError(`${where}: weight group ${g + 1} (${files}) holds ${bytes.length} bytes, but its weights (${group.weights.map((w) => `${w.name} ${shapeStr(w.shape)} ${w.quantization?.dtype ?? w.dtype}`).join(', ')}) need ${need}: the shard is ${bytes.length < need ? 'too short (truncated?)' : 'too long'}`);
    }
    let at = 0;
    for (const w of group.weights) {
      const n = storedBytes(w, where);
      out.set(w.name, decodeWeight(w, bytes.subarray(at, at + n), where));
      at += n;
    }
  });
  return out;
}

/** Where model.json is: a directory (Node) means its model.json; a page-relative URL becomes absolute like its shards'. */
async function modelJsonLocation(source: string | URL): Promise<string> {
  const s = String(source);
  if (await isDirectory(s)) return `${s.replace(/[/\\]+$/, '')}/model.json`;
  return (await localPath(s)) === null && !isUrl(s) && globalThis.location ? new URL(s, globalThis.location.href).href : s;
}

/** Read model.json and its shards: the parsed JSON and each group's bytes. */
export async function fetchLayersModel(source: string | URL, { onProgress, ...read }: ReadLayersModelOptions = {}): Promise<{ json: LayersModelJson; groupBytes: Uint8Array[]; where: string }> {
  const where = await modelJsonLocation(source);
  const limits = new LimitCounter(where, read.limits);
  const json = parseLayersModelJson(new TextDecoder().decode(await readSource(where, { ...read, maxBytes: limits.limits.maxFileBytes })), where);
  for (const group of json.weightsManifest) for (const w of group.weights) (limits.checkShape(w.shape, `weight '${w.name}'`), limits.add(w.shape, `weight '${w.name}'`));
  const locations = json.weightsManifest.map((group) => group.paths.map((path) => shardLocation(where, path)));
  const total = json.weightsManifest.reduce((s, g) => s + g.weights.reduce((t, w) => t + storedBytes(w, where), 0), 0);
  limits.checkFileBytes(total, "the manifest's weights");
  let done = 0;
  const report = (loaded: number) => onProgress?.(total ? Math.min(loaded / total, 1) : 1, loaded, total);
  report(0);
  const groupBytes: Uint8Array[] = [];
  for (const [g, group] of json.weightsManifest.entries()) {
    const shards: Uint8Array[] = [];
    for (const [p, path] of group.paths.entries()) {
      const shard = await readSource(locations[g][p], { ...read, maxBytes: limits.limits.maxFileBytes, onProgress: (_, info) => report(done + info.loaded) }).catch((e: Error) => {
        throw new GraftError(`${where}: shard '${path}' listed in the weights manifest: ${e.message}`);
      });
      done += shard.length;
      shards.push(shard);
    }
    const bytes = new Uint8Array(shards.reduce((s, c) => s + c.length, 0));
    shards.reduce((at, c) => (bytes.set(c, at), at + c.length), 0);
    groupBytes.push(bytes);
  }
  return { json, groupBytes, where };
}

/**
 * Read a TensorFlow.js LayersModel of the Darknet family from model.json's path or URL (or, in Node,
 * its directory) and return its weights under Graft's names in Graft's layouts, ready for
 * loadStateDict.
 */
export async function readLayersModel(source: string | URL, options: ReadLayersModelOptions = {}): Promise<Map<string, HostTensor>> {
  const { json, groupBytes, where } = await fetchLayersModel(source, options);
  try {
    return layersModelToStateDict(json, decodeManifest(json, groupBytes, where), where);
  } catch (e) {
    if (e instanceof GraftError) throw e;
    // A topology with fields of unexpected kinds: still one line that names the file.
    throw new GraftError(`${where}: cannot read this model's topology (${String((e as Error).message).split('\n')[0]})`);
  }
}
