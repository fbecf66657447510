// Files by path (Node) or URL (both worlds): locating files next to each other, and reading them
// (through source.ts's readSource, without its download cache). Node's side goes through the NodeHost.
import { inNode, nodeHost } from './host.ts';
import { readSource } from './source.ts';

/** http:, https:, blob:, data: and file: addresses; anything else is a path in Node. */
export function isUrl(source: string | URL): boolean {
  return source instanceof URL || /^(https?|blob|data|file):/i.test(source);
}

/** A source as a local path when it is one in Node (a path or a file: URL); null otherwise. */
export async function localPath(source: string | URL): Promise<string | null> {
  if (!inNode) return null;
  const s = String(source);
  if (/^file:/i.test(s)) return nodeHost('a file: URL').fileUrlToPath(s);
  return isUrl(s) ? null : s;
}

/** Whether a local path names a directory (false for URLs and missing paths). */
export async function isDirectory(source: string | URL): Promise<boolean> {
  const p = await localPath(source);
  if (p === null) return false;
  return nodeHost(`reading ${p}`).isDirectory(p);
}

/** Resolve `relative` against the location of `base` (a file path or URL), as a browser resolves links. */
export function siblingOf(base: string | URL, relative: string): string {
  const b = String(base);
  if (isUrl(b) || !inNode) return new URL(relative, isUrl(b) ? b : new URL(b, globalThis.location?.href)).href;
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
