// Node only: a fresh instance of an ES module of a package (its own module state), for libraries whose
// state a bad input can break (h5wasm after a WebAssembly trap). The module's file is imported again
// under a distinct URL; the modules it imports stay shared.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

let counter = 0;

/** `relative` is the module's path inside the package folder (e.g. 'dist/node/hdf5_hl.js'). */
export async function importFresh(pkg: string, relative: string): Promise<unknown> {
  const paths = [process.cwd(), path.dirname(new URL(import.meta.url).pathname)];
  let folder: string | null = null;
  for (const from of paths) {
    try {
      // package.json is not among h5wasm's exports: find the folder through node_modules lookup.
      const lookup = createRequire(path.join(from, 'x.js')).resolve.paths(pkg) ?? [];
      for (const dir of lookup) {
        const candidate = path.join(dir, pkg);
        if (existsSync(path.join(candidate, relative))) {
          folder = candidate;
          break;
        }
      }
    } catch {
      /* next */
    }
    if (folder) break;
  }
  if (!folder) throw new Error(`cannot find ${pkg}/${relative}`);
  const url = pathToFileURL(path.join(folder, relative));
  url.search = `?graft-instance=${++counter}`;
  return import(/* @vite-ignore */ url.href);
}

/** Run `fn` (synchronous) with process.stderr's writes dropped: h5wasm prints "Aborted(...)" through a console.error it bound at load. */
export function quietStderr<T>(fn: () => T): T {
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return fn();
  } finally {
    process.stderr.write = write;
  }
}
