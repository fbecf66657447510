// Small types shared by every layer: element types, tensors on the host, progress reports.

export type DType = 'f32' | 'i32';

/** A tensor on the host: what weight files decode to and what state dicts hold. */
export interface HostTensor {
  shape: number[];
  dtype: DType;
  data: Float32Array | Int32Array;
}

export interface ProgressInfo {
  /** Bytes read so far. */
  loaded: number;
  /** Total bytes, when known (Content-Length or file size). */
  total: number | null;
  /** The path or URL being read. */
  source: string;
  /** True when the bytes came from the download cache. */
  fromCache: boolean;
}

/** Called as bytes arrive: `fraction` is loaded / total in [0, 1] (0 until done when the total is unknown). */
export type ProgressCallback = (fraction: number, info: ProgressInfo) => void;

/** Decoded pixels: 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) interleaved 8-bit channels, HWC. */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}
