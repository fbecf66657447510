// Node only (part of the NodeHost that io/node/install.ts registers): reading files with progress,
// the download cache folder, and atomic writes (a temp file in the same folder, then rename, so that a reader never sees a
// half-written file and an interrupted write leaves the old file intact).
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GraftError } from '../../core/index.ts';
import type { ProgressCallback } from '../../core/index.ts';

const CHUNK = 8 << 20;

export async function readFileWithProgress(file: string | URL, onProgress?: ProgressCallback): Promise<Uint8Array> {
  const name = file instanceof URL ? file.pathname : file;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new GraftError(code === 'ENOENT' ? `no such file: ${name}` : `cannot read ${name}: ${(e as Error).message}`);
  }
  try {
    const { size } = await handle.stat();
    const out = new Uint8Array(size);
    let loaded = 0;
    onProgress?.(size ? 0 : 1, { loaded, total: size, source: name, fromCache: false });
    while (loaded < size) {
      const { bytesRead } = await handle.read(out, loaded, Math.min(CHUNK, size - loaded), loaded);
      if (bytesRead === 0) throw new GraftError(`${name} shrank while being read (${loaded} of ${size} bytes)`);
      loaded += bytesRead;
      onProgress?.(loaded / size, { loaded, total: size, source: name, fromCache: false });
    }
    return out;
  } finally {
    await handle.close();
  }
}

export async function fileSize(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new GraftError(code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${(e as Error).message}`);
  }
}

/** `length` bytes from `start` (fewer at the end of the file). */
export async function readRange(file: string, start: number, length: number): Promise<Uint8Array> {
  const handle = await fs.open(file, 'r');
  try {
    const out = new Uint8Array(length);
    const { bytesRead } = await handle.read(out, 0, length, start);
    return out.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Write bytes to `file` atomically: temp file beside it, then rename over it. */
export async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  await fs.mkdir(dir, { recursive: true });
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fs.writeFile(temp, bytes);
    await fs.rename(temp, file);
  } catch (e) {
    await fs.rm(temp, { force: true });
    throw new GraftError(`cannot write ${file}: ${(e as Error).message}`);
  }
}

export function cacheFolder(cacheDir?: string): string {
  return cacheDir ?? process.env.GRAFT_CACHE ?? path.join(os.homedir(), '.cache', 'graft');
}

/** `<sha256(url) prefix>-<last path part>`: unique per URL, still readable in a listing. */
export function cacheFile(url: string, cacheDir?: string): string {
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 24);
  const base = (new URL(url).pathname.split('/').filter(Boolean).pop() ?? 'download').replace(/[^\w.-]/g, '_').slice(-80);
  return path.join(cacheFolder(cacheDir), `${hash}-${base}`);
}

export async function cacheRead(url: string, cacheDir?: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await fs.readFile(cacheFile(url, cacheDir)));
  } catch {
    return null;
  }
}

export async function cacheWrite(url: string, bytes: Uint8Array, cacheDir?: string): Promise<void> {
  await writeFileAtomic(cacheFile(url, cacheDir), bytes);
}

export async function cacheClear(url?: string, cacheDir?: string): Promise<void> {
  if (url) await fs.rm(cacheFile(url, cacheDir), { force: true });
  else await fs.rm(cacheFolder(cacheDir), { recursive: true, force: true });
}
