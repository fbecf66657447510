// A folder of images per class (Node), as torchvision's ImageFolder:
//   root/<class name>/<image>.png
// Classes are the sub-folders in sorted order; every PNG must have the size and channel count of
// the first (or of the options), else the error names the file.
import { GraftError } from '../core/index.ts';
import { loadImage } from '../models/image.ts';
import { type ArrayDataset, type Dataset, LoaderDataset } from './data.ts';
import { type ImageCheck, colorChannels, imageDataset, imageToChw } from './images.ts';

export interface ImageFolderOptions {
  /** 1 or 3; default: the first image's (alpha not counted). */
  channels?: 1 | 3;
  /** [height, width]; default: the first image's. */
  size?: [number, number];
  /** Decode each image when a batch needs it instead of all of them now. */
  lazy?: boolean;
  /** File extensions read (default .png). */
  extensions?: string[];
}

async function nodeModules(): Promise<{ fs: typeof import('node:fs/promises'); path: typeof import('node:path') }> {
  const [fsName, pathName] = ['node:fs/promises', 'node:path'];
  return { fs: await import(/* @vite-ignore */ fsName), path: await import(/* @vite-ignore */ pathName) };
}

/** The files of a class folder tree: [class names, file paths, labels]. */
export async function listImageFolder(root: string, extensions = ['.png']): Promise<{ classNames: string[]; files: string[]; labels: number[] }> {
  const { fs, path } = await nodeModules();
  let entries;
  try {
    entries = await fs.readdir(root, { withFileTypes: true });
  } catch (e) {
    throw new GraftError(`imageFolder: cannot read ${root} (${(e as { code?: string }).code === 'ENOENT' ? 'no such folder' : (e as Error).message})`);
  }
  const classNames = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (!classNames.length) throw new GraftError(`imageFolder: ${root} has no class folders (expected ${root}/<class>/<image>.png)`);
  const files: string[] = [];
  const labels: number[] = [];
  for (const [label, cls] of classNames.entries()) {
    const dir = path.join(root, cls);
    const names = (await fs.readdir(dir)).filter((f) => extensions.some((x) => f.toLowerCase().endsWith(x))).sort();
    if (!names.length) throw new GraftError(`imageFolder: class folder ${dir} has no ${extensions.join('/')} images`);
    for (const f of names) {
      files.push(path.join(dir, f));
      labels.push(label);
    }
  }
  return { classNames, files, labels };
}

/** A dataset from root/<class>/<image>.png, values scaled to [0, 1]. */
export async function imageFolder(root: string, o: ImageFolderOptions = {}): Promise<Dataset> {
  const { classNames, files, labels } = await listImageFolder(root, o.extensions);
  const name = `imageFolder ${root}`;
  if (!o.lazy) return imageDataset(files, labels, { channels: o.channels, size: o.size, classNames, names: files, name }) as Promise<ArrayDataset>;
  // Lazy: the first image fixes the shape now; each image is checked when it is read.
  const first = await loadImage(files[0]);
  const want: ImageCheck = { channels: o.channels ?? colorChannels(first), size: o.size ?? [first.height, first.width] };
  return new LoaderDataset({
    labels,
    shape: [want.channels, want.size[0], want.size[1]],
    classNames,
    itemNames: files,
    name,
    load: async (i) => imageToChw(await loadImage(files[i]), files[i], want),
  });
}
