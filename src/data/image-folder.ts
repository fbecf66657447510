// A folder of images per class (Node), as torchvision's ImageFolder:
//   root/<class name>/<image>.png
// Classes are the sub-folders in sorted order; every PNG must have the size and channel count of
// the first (or of the options), else the error names the file.
import { GraftError } from '../core/index.ts';
import { nodeHost } from '../io/host.ts';
import { loadImage } from '../io/image.ts';
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

/** The files of a class folder tree: [class names, file paths, labels]. */
export async function listImageFolder(root: string, extensions = ['.png']): Promise<{ classNames: string[]; files: string[]; labels: number[] }> {
  const host = nodeHost(`imageFolder ${root}`);
  let entries;
  try {
    entries = await host.listDir(root);
  } catch (e) {
    throw new GraftError(`imageFolder: cannot read ${root} (${(e as { code?: string }).code === 'ENOENT' ? 'no such folder' : (e as Error).message})`);
  }
  const classNames = entries.filter((e) => e.isDirectory).map((e) => e.name).sort();
  if (!classNames.length) throw new GraftError(`imageFolder: ${root} has no class folders (expected ${root}/<class>/<image>.png)`);
  const files: string[] = [];
  const labels: number[] = [];
  for (const [label, cls] of classNames.entries()) {
    const dir = host.joinPath(root, cls);
    const names = (await host.listDir(dir)).map((e) => e.name).filter((f) => extensions.some((x) => f.toLowerCase().endsWith(x))).sort();
    if (!names.length) throw new GraftError(`imageFolder: class folder ${dir} has no ${extensions.join('/')} images`);
    for (const f of names) {
      files.push(host.joinPath(dir, f));
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
