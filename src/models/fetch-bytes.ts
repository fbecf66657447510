// Files by path (Node) or URL (both worlds): locating files next to each other, and reading them
// (through weights/source.ts's readSource, without its download cache). Node modules are imported
// dynamically so that this file bundles for the browser as it is.
import { readSource } from './weights/source.ts';

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

/** http:, https:, blob:, data: and file: addresses; anything else is a path in Node. */
export function isUrl(source: string | URL): boolean {
  return source instanceof URL || /^(https?|blob|data|file):/i.test(source);
}

async function nodeFs(): Promise<typeof import('node:fs/promises')> {
  const name = 'node:fs/promises';
  return import(/* @vite-ignore */ name);
}

async function nodeFileUrlToPath(url: string): Promise<string> {
  const name = 'node:url';
  const { fileURLToPath } = (await import(/* @vite-ignore */ name)) as typeof import('node:url');
  return fileURLToPath(url);
}

/** A source as a local path when it is one in Node (a path or a file: URL); null otherwise. */
export async function localPath(source: string | URL): Promise<string | null> {
  if (!isNode) return null;
  const s = String(source);
  if (/^file:/i.test(s)) return nodeFileUrlToPath(s);
  return isUrl(s) ? null : s;
}

/** Whether a local path names a directory (false for URLs and missing paths). */
export async function isDirectory(source: string | URL): Promise<boolean> {
  const p = await localPath(source);
  if (p === null) return false;
  try {
    return (await (await nodeFs()).stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Resolve `relative` against the location of `base` (a file path or URL), as a browser resolves links. */
export function siblingOf(base: string | URL, relative: string): string {
  const b = String(base);
  if (isUrl(b) || !isNode) return new URL(relative, isUrl(b) ? b : new URL(b, globalThis.location?.href)).href;
  const cut = Math.max(b.lastIndexOf('/'), b.lastIndexOf('\\'));
  return cut >= 0 ? b.slice(0, cut + 1) + relative : relative;
}

/** All bytes of a file or URL (uncached); `onChunk(bytesSoFar)` follows the reading. */
export async function readBytes(source: string | URL, onChunk?: (loaded: number) => void): Promise<Uint8Array> {
  return readSource(source, { cache: false, onProgress: onChunk && ((_, info) => onChunk(info.loaded)) });
}

/** The text of a file or URL (UTF-8, uncached). */
export async function readText(source: string | URL): Promise<string> {
  return new TextDecoder().decode(await readBytes(source));
}
