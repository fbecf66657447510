// Where measured kernel choices are kept between runs, one JSON text per adapter identity: in Node
// a file <cache folder>/tuning/<name>.json (the download cache's folder: $GRAFT_CACHE, else
// ~/.cache/graft), in a browser an entry of the Cache API (cache 'graft-tuning-v1'). Without
// either (a page without CacheStorage) the choices live only as long as the device.
import { hasNodeHost, inNode, nodeHost } from './host.ts';

export interface TuneStore {
  /** Where the text lives, for messages. */
  readonly where: string;
  /** The stored text, or null when there is none. */
  load(): Promise<string | null>;
  save(text: string): Promise<void>;
}

const BROWSER_CACHE = 'graft-tuning-v1';

/** The store for one identity `name` (letters, digits, '-', '_', '.'); `cacheDir` overrides the folder in Node. */
export function tuneStore(name: string, cacheDir?: string): TuneStore {
  if (inNode && hasNodeHost()) {
    const host = nodeHost('the tuning cache');
    const file = host.joinPath(host.cacheFolder(cacheDir), 'tuning', `${name}.json`);
    return {
      where: file,
      async load() {
        let bytes: Uint8Array;
        try {
          bytes = await host.readFile(file);
        } catch {
          return null; // no file yet (or unreadable: treated as none, the next save replaces it)
        }
        return new TextDecoder().decode(bytes);
      },
      save: (text) => host.writeFileAtomic(file, text),
    };
  }
  const url = `https://graft-webgpu.invalid/tuning/${name}.json`;
  const storage = typeof caches !== 'undefined' ? caches : null;
  return {
    where: storage ? `Cache API '${BROWSER_CACHE}' ${url}` : '(memory only: no Cache API here)',
    async load() {
      if (!storage) return null;
      const hit = await (await storage.open(BROWSER_CACHE)).match(url);
      return hit ? hit.text() : null;
    },
    async save(text) {
      if (!storage) return;
      await (await storage.open(BROWSER_CACHE)).put(url, new Response(text, { headers: { 'content-type': 'application/json' } }));
    },
  };
}
