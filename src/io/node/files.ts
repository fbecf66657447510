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
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new GraftError(`${name} is a folder, not a file`);
    const { size } = stat;
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
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new GraftError(code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${(e as Error).message}`);
  }
  if (stat.isDirectory()) throw new GraftError(`${file} is a folder, not a file`);
  return stat.size;
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

/**
 * Create `dir` and its missing parents, one level at a time. (Node's `mkdir({ recursive: true })`
 * never returns for a path under /proc: it retries forever.) Fails once, naming the folder.
 */
async function makeFolder(dir: string, file: string): Promise<void> {
  const missing: string[] = [];
  for (let at = dir; ; at = path.dirname(at)) {
    try {
      if (!(await fs.stat(at)).isDirectory()) throw new GraftError(`cannot write ${file}: ${at} is not a folder`);
      break;
    } catch (e) {
      if (e instanceof GraftError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(at) === at) throw new GraftError(`cannot write ${file}: ${(e as Error).message}`);
      missing.unshift(at);
    }
  }
  for (const at of missing) {
    try {
      await fs.mkdir(at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && (await fs.stat(at).then((s) => s.isDirectory(), () => false))) continue;
      throw new GraftError(`cannot write ${file}: cannot create the folder ${at} (${(e as Error).message})`);
    }
  }
}

const TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;
/** A temp file whose writer is gone is removed after this long even if its pid is reused. */
const STALE_TEMP_MS = 10 * 60 * 1000;

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove temp files that writers killed mid-write left beside `file` (`.<name>.<pid>.<hex>.tmp`):
 * those whose process is gone, or older than 10 minutes. Errors are ignored: cleaning is best effort.
 */
export async function removeStaleTemps(file: string): Promise<string[]> {
  const dir = path.dirname(path.resolve(file));
  const removed: string[] = [];
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[2]);
    const full = path.join(dir, name);
    let stale = !processAlive(pid);
    if (!stale) stale = await fs.stat(full).then((s) => Date.now() - s.mtimeMs > STALE_TEMP_MS, () => false);
    if (stale && (await fs.rm(full, { force: true }).then(() => true, () => false))) removed.push(full);
  }
  return removed;
}

/** Write bytes to `file` atomically: temp file beside it, then rename over it. Stale temps from dead writers there are removed first. */
export async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  await makeFolder(dir, file);
  await removeStaleTemps(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fs.writeFile(temp, bytes);
    await fs.rename(temp, file);
  } catch (e) {
    await fs.rm(temp, { force: true }).catch(() => {});
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
