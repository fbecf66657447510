// The line between code that runs everywhere and code that needs Node. Everything Node-only (the
// file system, the download cache folder, zlib, the PNG/JPEG decoders, Dawn) is reached through the
// NodeHost registered by the Node entry (src/node.ts -> io/node/install.ts). The browser build never
// registers one, so no Node module is ever bundled for a page; a call that needs Node there says so.
import { GraftError } from '../core/index.ts';
import type { ProgressCallback, RawImage } from '../core/index.ts';

export interface DirEntry {
  name: string;
  isDirectory: boolean;
}

export interface NodeHost {
  /** Whole file, reporting progress as chunks arrive. */
  readFile(file: string | URL, onProgress?: ProgressCallback): Promise<Uint8Array>;
  fileSize(file: string): Promise<number>;
  /** `length` bytes from `start` (fewer at the end of the file). */
  readRange(file: string, start: number, length: number): Promise<Uint8Array>;
  /** Temp file beside the target, then rename: a reader never sees a half-written file. */
  writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void>;
  listDir(dir: string): Promise<DirEntry[]>;
  /** False for missing paths. */
  isDirectory(file: string): Promise<boolean>;
  joinPath(...parts: string[]): string;
  fileUrlToPath(url: string): string;
  cacheRead(url: string, cacheDir?: string): Promise<Uint8Array | null>;
  cacheWrite(url: string, bytes: Uint8Array, cacheDir?: string): Promise<void>;
  cacheClear(url?: string, cacheDir?: string): Promise<void>;
  /** The cache folder: `cacheDir`, else $GRAFT_CACHE, else ~/.cache/graft. */
  cacheFolder(cacheDir?: string): string;
  /** CRC-32 (zip's), native where this Node has zlib.crc32; undefined otherwise. */
  crc32?(bytes: Uint8Array): number;
  /** Raw deflate; stops with an error past `maxBytes` of output. */
  inflateRaw(bytes: Uint8Array, maxBytes: number): Promise<Uint8Array>;
  /** A new instance of a package's ES module (its own module state): `relative` is its path in the package folder. */
  importFresh?(pkg: string, relative: string): Promise<unknown>;
  /** Run `fn` with the process's stderr swallowed (libraries that print diagnostics nobody asked for). */
  quietStderr?<T>(fn: () => T): T;
  /** Encoded image bytes (PNG, JPEG) -> pixels with the channels the file has. */
  decodeImage(bytes: Uint8Array, name: string): Promise<RawImage>;
}

let host: NodeHost | null = null;

/** Called once by the Node entry. */
export function setNodeHost(h: NodeHost): void {
  host = h;
}

/** True in Node (not in a browser, nor in a browser-like test environment). */
export const inNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

/** Whether Node's services are available here. */
export function hasNodeHost(): boolean {
  return host !== null;
}

/** The Node services, or a one-line error that says what needed them. */
export function nodeHost(what: string): NodeHost {
  if (host) return host;
  if (inNode) throw new GraftError(`${what} needs Graft's Node entry, which was not loaded: import 'graft-webgpu' by that name in Node (its "node" export condition), not 'graft-webgpu/browser' or a bundled copy`);
  throw new GraftError(`${what} needs Node (a file system); in a browser, pass a URL, a File/Blob or bytes instead`);
}
