// Datasets and the DataLoader. A Dataset is a list of images [C, H, W] with integer labels, read
// as float32 CHW values (integer pixels scaled to [0, 1], as torchvision's ToTensor); its labels
// are known without reading the images, so splits can stratify by them. Items live on the host
// (arrays) or behind a loader function; a DataLoader batches them in a seeded order per epoch
// (a pure function of seed and epoch, so a resumed run sees the same batches).
import type { Gpu } from '../graph/gpu.ts';
import { mulberry32 } from '../graph/random.ts';
import type { Tensor } from '../graph/tensor.ts';
import { GraftError, shapeStr } from '../core/index.ts';

/** [channels, height, width] of one item. */
export type ItemShape = readonly [number, number, number];

export interface Dataset {
  readonly name: string;
  readonly length: number;
  readonly itemShape: ItemShape;
  readonly numClasses: number;
  readonly classNames: readonly string[] | null;
  /** The label of item i, without reading the item. */
  label(i: number): number;
  /** Items' values, CHW float32 each, one after another. */
  read(indices: readonly number[]): Promise<Float32Array>;
}

type PixelArray = Uint8Array | Uint8ClampedArray | Float32Array | Float64Array;

interface CommonOptions {
  labels: ArrayLike<number>;
  /** [C, H, W] of every item. */
  shape: ItemShape;
  /** Default: the largest label + 1 (or classNames.length). */
  numClasses?: number;
  classNames?: readonly string[];
  /** Named in errors. */
  name?: string;
  /** Multiplies stored values; default 1/255 for integer pixels, 1 for floats. */
  scale?: number;
  /** Names of the items (file names) for errors; default `item i`. */
  itemNames?: readonly string[];
}

export interface ArrayDatasetOptions extends CommonOptions {
  /** N * C * H * W values, item-major, CHW within an item. */
  images: PixelArray;
}

export interface LoaderDatasetOptions extends CommonOptions {
  /** The values of item i: C * H * W numbers, CHW. */
  load: (i: number) => Promise<ArrayLike<number>> | ArrayLike<number>;
}

const itemSize = (s: ItemShape) => s[0] * s[1] * s[2];

abstract class BaseDataset implements Dataset {
  readonly name: string;
  readonly length: number;
  readonly itemShape: ItemShape;
  readonly numClasses: number;
  readonly classNames: readonly string[] | null;
  protected readonly labels: Int32Array;
  protected readonly itemNames: readonly string[] | null;
  protected readonly scale: number | undefined;

  constructor(o: CommonOptions, kind: string) {
    this.name = o.name ?? kind;
    const n = o.labels.length;
    if (n === 0) throw new GraftError(`${this.name}: the dataset is empty (0 items)`);
    const [c, h, w] = o.shape;
    if (o.shape.length !== 3 || ![c, h, w].every((d) => Number.isInteger(d) && d > 0)) throw new GraftError(`${this.name}: item shape must be [C, H, W] of positive integers, got ${shapeStr(o.shape)}`);
    this.itemShape = [c, h, w];
    this.classNames = o.classNames ? [...o.classNames] : null;
    let max = -1;
    for (let i = 0; i < n; i++) max = Math.max(max, o.labels[i]);
    this.numClasses = o.numClasses ?? o.classNames?.length ?? max + 1;
    if (o.classNames && o.classNames.length !== this.numClasses) throw new GraftError(`${this.name}: ${o.classNames.length} class names for ${this.numClasses} classes`);
    this.itemNames = o.itemNames ?? null;
    this.labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = o.labels[i];
      if (!Number.isInteger(v) || v < 0 || v >= this.numClasses) throw new GraftError(`${this.name}: label of ${this.itemName(i)} is ${v}, outside [0, ${this.numClasses}) (${this.numClasses} classes)`);
      this.labels[i] = v;
    }
    this.length = n;
    this.scale = o.scale;
  }

  protected itemName(i: number): string {
    return this.itemNames?.[i] ?? `item ${i}`;
  }

  label(i: number): number {
    if (!(i >= 0 && i < this.length)) throw new GraftError(`${this.name}: index ${i} out of range (${this.length} items)`);
    return this.labels[i];
  }

  protected checkIndices(indices: readonly number[]): void {
    for (const i of indices) if (!(Number.isInteger(i) && i >= 0 && i < this.length)) throw new GraftError(`${this.name}: index ${i} out of range (${this.length} items)`);
  }

  abstract read(indices: readonly number[]): Promise<Float32Array>;
}

export class ArrayDataset extends BaseDataset {
  private readonly images: PixelArray;
  constructor(o: ArrayDatasetOptions) {
    super(o, 'ArrayDataset');
    const size = itemSize(this.itemShape);
    if (o.images.length !== this.length * size) {
      throw new GraftError(`${this.name}: ${o.images.length} image values for ${this.length} labels of shape ${shapeStr(this.itemShape)} (expected ${this.length * size})`);
    }
    this.images = o.images;
  }

  async read(indices: readonly number[]): Promise<Float32Array> {
    this.checkIndices(indices);
    const size = itemSize(this.itemShape);
    const scale = this.scale ?? (this.images instanceof Float32Array || this.images instanceof Float64Array ? 1 : 1 / 255);
    const out = new Float32Array(indices.length * size);
    indices.forEach((idx, k) => {
      const src = this.images.subarray(idx * size, (idx + 1) * size);
      const dst = out.subarray(k * size, (k + 1) * size);
      for (let j = 0; j < size; j++) dst[j] = src[j] * scale;
    });
    return out;
  }
}

export class LoaderDataset extends BaseDataset {
  private readonly load: LoaderDatasetOptions['load'];
  constructor(o: LoaderDatasetOptions) {
    super(o, 'LoaderDataset');
    this.load = o.load;
  }

  async read(indices: readonly number[]): Promise<Float32Array> {
    this.checkIndices(indices);
    const size = itemSize(this.itemShape);
    const out = new Float32Array(indices.length * size);
    const items = await Promise.all(indices.map((i) => this.load(i)));
    items.forEach((v, k) => {
      const i = indices[k];
      if (!v || v.length !== size) throw new GraftError(`${this.name}: ${this.itemName(i)} has ${v?.length ?? 0} values, expected ${size} for shape ${shapeStr(this.itemShape)}`);
      const scale = this.scale ?? (v instanceof Uint8Array || v instanceof Uint8ClampedArray ? 1 / 255 : 1);
      const dst = out.subarray(k * size, (k + 1) * size);
      for (let j = 0; j < size; j++) dst[j] = v[j] * scale;
    });
    return out;
  }
}

/** Some items of another dataset, in the given order. */
export class Subset implements Dataset {
  readonly name: string;
  readonly indices: Int32Array;
  constructor(readonly base: Dataset, indices: ArrayLike<number>, name?: string) {
    this.name = name ?? `${base.name} (subset)`;
    if (indices.length === 0) throw new GraftError(`${this.name}: the dataset is empty (0 items)`);
    this.indices = Int32Array.from(indices);
    for (const i of this.indices) if (i < 0 || i >= base.length) throw new GraftError(`${this.name}: index ${i} out of range of ${base.name} (${base.length} items)`);
  }
  get length(): number {
    return this.indices.length;
  }
  get itemShape(): ItemShape {
    return this.base.itemShape;
  }
  get numClasses(): number {
    return this.base.numClasses;
  }
  get classNames(): readonly string[] | null {
    return this.base.classNames;
  }
  label(i: number): number {
    return this.base.label(this.indices[i]);
  }
  read(indices: readonly number[]): Promise<Float32Array> {
    return this.base.read(indices.map((i) => {
      if (!(i >= 0 && i < this.length)) throw new GraftError(`${this.name}: index ${i} out of range (${this.length} items)`);
      return this.indices[i];
    }));
  }
}

export function arrayDataset(options: ArrayDatasetOptions): ArrayDataset {
  return new ArrayDataset(options);
}

export function loaderDataset(options: LoaderDatasetOptions): LoaderDataset {
  return new LoaderDataset(options);
}

export function subset(base: Dataset, indices: ArrayLike<number>, name?: string): Subset {
  return new Subset(base, indices, name);
}

/** How many items of each class. */
export function classCounts(ds: Dataset): number[] {
  const counts = new Array<number>(ds.numClasses).fill(0);
  for (let i = 0; i < ds.length; i++) counts[ds.label(i)]++;
  return counts;
}

// ---- seeded order -----------------------------------------------------------------------------

/** A 32-bit seed mixed from several integers (seed, epoch, step, ...). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
  }
  return h;
}

/** Fisher-Yates shuffle in place with a seeded generator. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(a: T, seed: number): T {
  const rand = mulberry32(seed);
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

// ---- DataLoader -------------------------------------------------------------------------------

export interface DataLoaderOptions {
  batchSize: number;
  /** A new seeded order each epoch (default false: dataset order). */
  shuffle?: boolean;
  seed?: number;
  /** Skip the last batch when it is smaller than batchSize. */
  dropLast?: boolean;
}

/** One batch on the host: x [B, C, H, W] values, y [B] labels. */
export interface HostBatch {
  x: Float32Array;
  y: Int32Array;
  shape: [number, number, number, number];
  indices: Int32Array;
  /** Index of the batch within its epoch. */
  step: number;
}

export class DataLoader {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  constructor(readonly dataset: Dataset, o: DataLoaderOptions) {
    if (!(Number.isInteger(o.batchSize) && o.batchSize > 0)) throw new GraftError(`DataLoader: batchSize must be a positive integer, got ${o.batchSize}`);
    if (dataset.length === 0) throw new GraftError(`DataLoader: ${dataset.name} is empty`);
    this.batchSize = o.batchSize;
    this.shuffle = o.shuffle ?? false;
    this.seed = o.seed ?? 0;
    this.dropLast = o.dropLast ?? false;
    if (this.dropLast && dataset.length < this.batchSize) throw new GraftError(`DataLoader: dropLast with batchSize ${this.batchSize} leaves no batch of ${dataset.name} (${dataset.length} items)`);
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length / this.batchSize;
    return this.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The order of items in `epoch`. */
  order(epoch: number): Int32Array {
    const idx = Int32Array.from({ length: this.dataset.length }, (_, i) => i);
    return this.shuffle ? shuffleInPlace(idx, mixSeed(this.seed, epoch, 0x5b1f)) : idx;
  }

  /** The batches of one epoch, read as they are consumed. */
  async *batches(epoch = 0): AsyncGenerator<HostBatch> {
    const order = this.order(epoch);
    const [c, h, w] = this.dataset.itemShape;
    for (let step = 0; step < this.length; step++) {
      const indices = order.subarray(step * this.batchSize, Math.min(order.length, (step + 1) * this.batchSize));
      const list = [...indices];
      const x = await this.dataset.read(list);
      if (x.length !== list.length * c * h * w) throw new GraftError(`DataLoader: ${this.dataset.name} gave ${x.length} values for ${list.length} items of shape ${shapeStr(this.dataset.itemShape)} (expected ${list.length * c * h * w})`);
      const y = Int32Array.from(list, (i) => this.dataset.label(i));
      y.forEach((v, k) => {
        if (!(Number.isInteger(v) && v >= 0 && v < this.dataset.numClasses)) throw new GraftError(`DataLoader: ${this.dataset.name}: label of item ${list[k]} is ${v}, outside [0, ${this.dataset.numClasses})`);
      });
      yield { x, y, shape: [list.length, c, h, w], indices: Int32Array.from(indices), step };
    }
  }
}

/** Upload a host batch: x f32 [B, C, H, W], y i32 [B]. */
export function uploadBatch(gpu: Gpu, batch: HostBatch): { x: Tensor; y: Tensor } {
  return { x: gpu.tensor(batch.x, batch.shape), y: gpu.tensor(batch.y, [batch.y.length], 'i32') };
}

// ---- splits -----------------------------------------------------------------------------------

export interface SplitOptions {
  seed?: number;
  /** Keep each class's share the same in every part. */
  stratified?: boolean;
}

/** Indices of each class (or one group of all), each shuffled with the seed. */
function shuffledGroups(ds: Dataset, { seed = 0, stratified = false }: SplitOptions): Int32Array[] {
  if (!stratified) return [shuffleInPlace(Int32Array.from({ length: ds.length }, (_, i) => i), mixSeed(seed, 0x5e7))];
  const groups: number[][] = Array.from({ length: ds.numClasses }, () => []);
  for (let i = 0; i < ds.length; i++) groups[ds.label(i)].push(i);
  return groups.map((g, c) => shuffleInPlace(Int32Array.from(g), mixSeed(seed, 0x5e7, c)));
}

const sorted = (a: number[]) => Int32Array.from(a).sort();

/** A seeded split into train and validation parts (stratified: per class). */
export function trainValSplit(ds: Dataset, { valFraction = 0.2, ...o }: SplitOptions & { valFraction?: number } = {}): { train: Subset; val: Subset } {
  if (!(valFraction > 0 && valFraction < 1)) throw new GraftError(`trainValSplit: valFraction must be in (0, 1), got ${valFraction}`);
  const train: number[] = [];
  const val: number[] = [];
  for (const g of shuffledGroups(ds, o)) {
    const k = Math.round(g.length * valFraction);
    val.push(...g.subarray(0, k));
    train.push(...g.subarray(k));
  }
  if (!val.length || !train.length) throw new GraftError(`trainValSplit: valFraction ${valFraction} of ${ds.name} (${ds.length} items) leaves an empty ${val.length ? 'train' : 'validation'} part`);
  return { train: new Subset(ds, sorted(train), `${ds.name} (train)`), val: new Subset(ds, sorted(val), `${ds.name} (validation)`) };
}

/**
 * k seeded folds: fold i validates on one k-th of the items and trains on the rest. Stratified:
 * each class's items are dealt round the folds in turn (starting where the last class ended, so
 * fold sizes differ by at most one).
 */
export function kFold(ds: Dataset, k: number, o: SplitOptions = {}): { train: Subset; val: Subset }[] {
  if (!(Number.isInteger(k) && k >= 2)) throw new GraftError(`kFold: k must be an integer >= 2, got ${k}`);
  if (k > ds.length) throw new GraftError(`kFold: ${k} folds of ${ds.name} with only ${ds.length} items`);
  const folds: number[][] = Array.from({ length: k }, () => []);
  let next = 0;
  for (const g of shuffledGroups(ds, o)) for (const i of g) folds[next++ % k].push(i);
  return folds.map((val, f) => ({
    train: new Subset(ds, sorted(folds.flatMap((x, j) => (j === f ? [] : x))), `${ds.name} (fold ${f + 1}/${k} train)`),
    val: new Subset(ds, sorted(val), `${ds.name} (fold ${f + 1}/${k} validation)`),
  }));
}
