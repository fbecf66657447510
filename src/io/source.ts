// Reading weight files from wherever they are: a path (fs in Node, fetch in the browser), an http(s)
// URL (fetch, streamed through a ReadableStream so that progress is reported as bytes arrive), or
// bytes already in memory. Downloads are cached: a folder in Node ($GRAFT_CACHE, else
// ~/.cache/graft), the Cache API in the browser. Node's side is reached through the NodeHost
// (host.ts), so browser bundles never see it.
import { GraftError, type ProgressCallback } from '../core/index.ts';
import { inNode, nodeHost } from './host.ts';

export type { ProgressCallback, ProgressInfo } from '../core/index.ts';

export type WeightSource = string | URL | Uint8Array | ArrayBuffer | Blob;

export interface ReadOptions {
  onProgress?: ProgressCallback;
  /** Cache URL downloads (default true). */
  cache?: boolean;
  /** Node: the cache folder (default $GRAFT_CACHE, else ~/.cache/graft). */
  cacheDir?: string;
  signal?: AbortSignal;
  /** Refuse sources larger than this many bytes, before reading them (default: no limit here; the weight readers pass their `limits.maxFileBytes`). */
  maxBytes?: number;
}

function tooLarge(name: string, size: number, max: number): GraftError {
  return new GraftError(`${name}: the file has ${size} bytes, over the limit of ${max} (raise limits.maxFileBytes to read it)`);
}

/** http(s) and the browser's own URL kinds; anything else is a path. */
export function isUrl(source: string): boolean {
  return /^(https?|blob|data):/i.test(source);
}

/** A short name for messages: the path or URL, or what kind of bytes. */
export function sourceName(source: WeightSource): string {
  if (typeof source === 'string') return source;
  if (source instanceof URL) return source.href;
  if (typeof Blob !== 'undefined' && source instanceof Blob) return (source as Blob & { name?: string }).name || '<blob>';
  return '<bytes>';
}

/** The whole content of a weight file, reporting progress. */
export async function readSource(source: WeightSource, options: ReadOptions = {}): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  const name = sourceName(source);
  const max = options.maxBytes ?? Infinity;
  if (typeof source !== 'string' && !(source instanceof URL)) {
    if (source.size > max) throw tooLarge(name, source.size, max);
    const bytes = new Uint8Array(await source.arrayBuffer());
    options.onProgress?.(1, { loaded: bytes.length, total: bytes.length, source: name, fromCache: false });
    return bytes;
  }
  const text = source instanceof URL ? source.href : source;
  if (inNode && !isUrl(text)) {
    const host = nodeHost(`reading ${name}`);
    const file = text.startsWith('file:') ? host.fileUrlToPath(text) : text;
    if (max < Infinity) {
      const size = await host.fileSize(file);
      if (size > max) throw tooLarge(name, size, max);
    }
    return host.readFile(file, options.onProgress);
  }
  const cacheable = options.cache !== false && /^https?:/i.test(text);
  if (cacheable) {
    const cached = await cacheGet(text, options);
    if (cached) {
      options.onProgress?.(1, { loaded: cached.length, total: cached.length, source: name, fromCache: true });
      return cached;
    }
  }
  const bytes = await download(text, options);
  if (cacheable) await cachePut(text, bytes, options);
  return bytes;
}

/** fetch + ReadableStream: bytes land in one buffer when the length is known, progress per chunk. */
export async function download(url: string, options: ReadOptions = {}): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { signal: options.signal });
  } catch (e) {
    throw new GraftError(`could not fetch ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!response.ok) throw new GraftError(`could not fetch ${url}: HTTP ${response.status} ${response.statusText}`);
  const header = response.headers.get('content-length');
  // A compressed transfer reports the compressed length; trust it only for identity encoding.
  const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const total = header !== null && !encoded ? Number(header) : null;
  const max = options.maxBytes ?? Infinity;
  if (total !== null && total > max) throw tooLarge(url, total, max);
  const report = (loaded: number) =>
    options.onProgress?.(total ? Math.min(1, loaded / total) : 0, { loaded, total, source: url, fromCache: false });
  report(0);
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    options.onProgress?.(1, { loaded: bytes.length, total: bytes.length, source: url, fromCache: false });
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let into = total !== null ? new Uint8Array(total) : null;
  let loaded = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw new GraftError(`download of ${url} failed after ${loaded}${total !== null ? ` of ${total}` : ''} bytes: ${e instanceof Error ? e.message : String(e)}`);
    }
    const { done, value } = chunk;
    if (done) break;
    if (loaded + value.length > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge(url, loaded + value.length, max);
    }
    if (into && loaded + value.length > into.length) {
      // More than Content-Length promised: fall back to collecting chunks.
      chunks.push(into.subarray(0, loaded));
      into = null;
    }
    if (into) into.set(value, loaded);
    else chunks.push(value);
    loaded += value.length;
    report(loaded);
  }
  if (into) {
    if (loaded !== into.length) throw new GraftError(`download of ${url} is truncated: got ${loaded} of ${into.length} bytes`);
    if (total === 0) options.onProgress?.(1, { loaded, total, source: url, fromCache: false });
    return into;
  }
  const bytes = concat(chunks, loaded);
  options.onProgress?.(1, { loaded, total: loaded, source: url, fromCache: false });
  return bytes;
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// --- the download cache: content keyed by URL -----------------------------------------------------

const BROWSER_CACHE = 'graft-weights-v1';

function browserCaches(): CacheStorage | null {
  return typeof caches !== 'undefined' ? caches : null;
}

async function cacheGet(url: string, options: ReadOptions): Promise<Uint8Array | null> {
  if (inNode) return nodeHost('the download cache').cacheRead(url, options.cacheDir);
  const storage = browserCaches();
  if (!storage) return null;
  const hit = await (await storage.open(BROWSER_CACHE)).match(url);
  return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
}

async function cachePut(url: string, bytes: Uint8Array, options: ReadOptions): Promise<void> {
  if (inNode) return nodeHost('the download cache').cacheWrite(url, bytes, options.cacheDir);
  const storage = browserCaches();
  if (!storage) return;
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) };
  // Cache.put stores the whole response before resolving: the entry never holds a partial file.
  await (await storage.open(BROWSER_CACHE)).put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers }));
}

/** Remove one URL (or everything) from the download cache. */
export async function clearCache(url?: string, cacheDir?: string): Promise<void> {
  if (inNode) return nodeHost('the download cache').cacheClear(url, cacheDir);
  const storage = browserCaches();
  if (!storage) return;
  if (url) await (await storage.open(BROWSER_CACHE)).delete(url);
  else await storage.delete(BROWSER_CACHE);
}
