// Node only: registers Node's file system, cache folder, decoders and zlib as the NodeHost, and Dawn
// as the WebGPU implementation. Imported by the Node entry (src/node.ts) and nothing else in src/.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setNodeGpu } from '../../device/device.ts';
import { dawnGpu } from '../../device/dawn-node.ts';
import { type NodeHost, setNodeHost } from '../host.ts';
import { crc32, decodeImage, inflateRaw } from './decode.ts';
import { importFresh, quietStderr } from './modules.ts';
import { cacheClear, cacheFolder, cacheRead, cacheWrite, fileSize, readFileWithProgress, readRange, writeFileAtomic } from './files.ts';

export const nodeHostImpl: NodeHost = {
  readFile: readFileWithProgress,
  fileSize,
  readRange,
  writeFileAtomic,
  async listDir(dir) {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries.map((e) => ({ name: e.name, isDirectory: e.isDirectory() }));
  },
  async isDirectory(file) {
    try {
      return (await fs.stat(file)).isDirectory();
    } catch {
      return false;
    }
  },
  joinPath: (...parts) => path.join(...parts),
  fileUrlToPath: (url) => fileURLToPath(url),
  cacheRead,
  cacheWrite,
  cacheClear,
  cacheFolder,
  inflateRaw,
  ...(crc32 ? { crc32 } : {}),
  decodeImage,
  importFresh,
  quietStderr,
};

let installed = false;

export function installNodeHost(): void {
  if (installed) return;
  installed = true;
  setNodeHost(nodeHostImpl);
  setNodeGpu(dawnGpu);
}
