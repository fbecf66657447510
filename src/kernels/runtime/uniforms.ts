// Uniform packing: one writer per kernel, built once from the reflected struct layout, that packs
// a params object into the batch's staging words without per-call sets, key lists or DataViews.
import { GraftError } from '../../core/index.ts';

export interface UniformField {
  name: string;
  offset: number;
  type: string; // 'u32' | 'i32' | 'f32'
  count: number; // 1 for scalars, N for vecN
}

/** Three views of one staging ArrayBuffer, indexed in 4-byte words. */
export interface UniformWords {
  u32: Uint32Array;
  i32: Int32Array;
  f32: Float32Array;
}

export function uniformWords(buffer: ArrayBuffer): UniformWords {
  return { u32: new Uint32Array(buffer), i32: new Int32Array(buffer), f32: new Float32Array(buffer) };
}

/** Packs `params` into words [at, at + size / 4); throws on a missing, unknown or ill-typed value. */
export type UniformWriter = (params: Record<string, number | number[]>, words: UniformWords, at: number) => void;

const U32 = 0;
const I32 = 1;
const F32 = 2;

/** The writer for one uniform struct; `key` names the kernel in errors. */
export function uniformWriter(key: string, size: number, fields: readonly UniformField[]): UniformWriter {
  const n = fields.length;
  const names = fields.map((f) => f.name);
  const words = fields.map((f) => f.offset / 4);
  const kinds = fields.map((f) => (f.type === 'f32' ? F32 : f.type === 'i32' ? I32 : U32));
  const counts = fields.map((f) => f.count);
  const sizeWords = Math.ceil(size / 4);

  const put = (w: UniformWords, at: number, i: number, value: number): void => {
    const kind = kinds[i];
    if (kind === F32) w.f32[at] = value;
    else if (kind === I32) w.i32[at] = value;
    else {
      if (value < 0 || !Number.isInteger(value)) throw new GraftError(`kernel ${key}: uniform '${names[i]}' is u32 but got ${value}`);
      w.u32[at] = value;
    }
  };

  return (params, w, at) => {
    w.u32.fill(0, at, at + sizeWords);
    for (let i = 0; i < n; i++) {
      const v = params[names[i]];
      if (v === undefined) throw new GraftError(`kernel ${key}: missing uniform '${names[i]}'`);
      const base = at + words[i];
      if (typeof v === 'number') {
        if (counts[i] !== 1) throw new GraftError(`kernel ${key}: uniform '${names[i]}' takes ${counts[i]} value(s), got 1`);
        put(w, base, i, v);
      } else {
        if (v.length !== counts[i]) throw new GraftError(`kernel ${key}: uniform '${names[i]}' takes ${counts[i]} value(s), got ${v.length}`);
        for (let j = 0; j < v.length; j++) put(w, base + j, i, v[j]);
      }
    }
    // Every field was given, so more keys than fields means an unknown one.
    let given = 0;
    for (const _ in params) given++;
    if (given > n) {
      const unknown = Object.keys(params).find((k) => !names.includes(k));
      throw new GraftError(`kernel ${key}: unknown uniform '${unknown}'`);
    }
  };
}
