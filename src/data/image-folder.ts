// A folder of images per class (Node), as torchvision's ImageFolder and Keras's
// image_dataset_from_directory:
//   root/<class name>/<image>.{png,jpg,jpeg}
// Classes are the sub-folders in sorted order. With `size` every image is resized to it on load
// (Keras's image_size); without it every image must have the first one's size (the error names the
// file). Gray images are copied to RGB and alpha is dropped (Keras's color_mode 'rgb'), or RGB
// becomes luma with channels: 1. A file that does not decode is refused by name, or skipped and
// listed with onError: 'skip'.
import { GraftError } from '../core/index.ts';
import { nodeHost } from '../io/host.ts';
import { loadImage } from '../io/image.ts';
import { ArrayDataset, type Dataset, LoaderDataset, type Subset, trainValSplit } from './data.ts';
import { type ImageCheck, imageToChw } from './images.ts';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

export interface ImageFolderOptions {
  /** 3 (default: gray copied to RGB) or 1 (RGB to luma). Alpha is always dropped. */
  channels?: 1 | 3;
  /** Resize every image to [height, width] (or size x size) on load; default: keep the first image's size and refuse others. */
  size?: [number, number] | number;
  /** Decode each image when a batch needs it instead of all of them now (errors then come at read time). */
  lazy?: boolean;
  /** File extensions read, case-insensitive (default .png, .jpg, .jpeg). */
  extensions?: string[];
  /** A file that cannot be decoded: 'throw' (default) names it; 'skip' leaves it out and lists it in `skipped`. */
  onError?: 'throw' | 'skip';
}

export interface SkippedImage {
  file: string;
  error: string;
}

/** An image folder's dataset, with the files left out (onError: 'skip'). */
export type ImageFolderDataset = Dataset & { readonly skipped: readonly SkippedImage[]; readonly files: readonly string[] };

/** The files of a class folder tree: [class names, file paths, labels]. */
export async function listImageFolder(root: string, extensions = IMAGE_EXTENSIONS): Promise<{ classNames: string[]; files: string[]; labels: number[] }> {
  const host = nodeHost(`imageFolder ${root}`);
  let entries;
  try {
    entries = await host.listDir(root);
  } catch (e) {
    throw new GraftError(`imageFolder: cannot read ${root} (${(e as { code?: string }).code === 'ENOENT' ? 'no such folder' : (e as Error).message})`);
  }
  const classNames = entries.filter((e) => e.isDirectory).map((e) => e.name).sort();
  if (!classNames.length) throw new GraftError(`imageFolder: ${root} has no class folders (expected ${root}/<class>/<image>${extensions[0]})`);
  const files: string[] = [];
  const labels: number[] = [];
  const lower = extensions.map((x) => x.toLowerCase());
  for (const [label, cls] of classNames.entries()) {
    const dir = host.joinPath(root, cls);
    const names = (await host.listDir(dir)).filter((e) => !e.isDirectory).map((e) => e.name).filter((f) => lower.some((x) => f.toLowerCase().endsWith(x))).sort();
    if (!names.length) throw new GraftError(`imageFolder: class folder ${dir} has no ${extensions.join('/')} images`);
    for (const f of names) {
      files.push(host.joinPath(dir, f));
      labels.push(label);
    }
  }
  return { classNames, files, labels };
}

const message = (e: unknown) => String((e as Error)?.message ?? e).replace(/^graft: /, '');

/** A dataset from root/<class>/<image>.{png,jpg,jpeg}, values scaled to [0, 1]. */
export async function imageFolder(root: string, o: ImageFolderOptions = {}): Promise<ImageFolderDataset> {
  const listed = await listImageFolder(root, o.extensions);
  const { classNames } = listed;
  const name = `imageFolder ${root}`;
  const size: [number, number] | undefined = typeof o.size === 'number' ? [o.size, o.size] : o.size;
  if (size && !size.every((v) => Number.isInteger(v) && v > 0)) throw new GraftError(`imageFolder: size must be positive integers, got ${JSON.stringify(o.size)}`);
  const channels = o.channels ?? 3;
  const onError = o.onError ?? 'throw';
  const skipped: SkippedImage[] = [];
  let want: ImageCheck | null = size ? { channels, size, resize: true, convert: true } : null;

  if (o.lazy) {
    if (!want) {
      const first = await loadImage(listed.files[0]);
      want = { channels, size: [first.height, first.width], convert: true };
    }
    const fixed = want;
    const ds = new LoaderDataset({
      labels: listed.labels, shape: [channels, fixed.size[0], fixed.size[1]], classNames, itemNames: listed.files, name,
      load: async (i) => imageToChw(await loadImage(listed.files[i]), listed.files[i], fixed),
    });
    return Object.assign(ds, { skipped, files: listed.files });
  }

  const files: string[] = [];
  const labels: number[] = [];
  const chws: Uint8Array[] = [];
  for (const [i, file] of listed.files.entries()) {
    let raw;
    try {
      raw = await loadImage(file);
    } catch (e) {
      if (onError === 'throw') throw new GraftError(`imageFolder: ${message(e)} (onError: 'skip' leaves such files out)`);
      skipped.push({ file, error: message(e) });
      continue;
    }
    want ??= { channels, size: [raw.height, raw.width], convert: true };
    try {
      chws.push(imageToChw(raw, file, want));
    } catch (e) {
      throw new GraftError(`imageFolder: ${message(e)}${size ? '' : ' (give a size to resize every image)'}`);
    }
    files.push(file);
    labels.push(listed.labels[i]);
  }
  if (!chws.length) throw new GraftError(`imageFolder: no image in ${root} could be decoded (${skipped.length} skipped, e.g. ${skipped[0]?.error})`);
  const empty = classNames.findIndex((_, c) => !labels.includes(c));
  if (empty >= 0) throw new GraftError(`imageFolder: every image of class '${classNames[empty]}' was skipped as undecodable`);
  const per = chws[0].length;
  const pixels = new Uint8Array(chws.length * per);
  chws.forEach((c, i) => pixels.set(c, i * per));
  const ds = new ArrayDataset({ images: pixels, labels, shape: [want!.channels, want!.size[0], want!.size[1]], classNames, itemNames: files, name });
  return Object.assign(ds, { skipped, files });
}

/** An image folder and a stratified, seeded validation split of it (Keras's validation_split + seed). */
export async function imageFolderSplit(root: string, o: ImageFolderOptions & { valFraction?: number; seed?: number } = {}): Promise<{ data: ImageFolderDataset; train: Subset; validation: Subset }> {
  const data = await imageFolder(root, o);
  const { train, val } = trainValSplit(data, { valFraction: o.valFraction ?? 0.2, seed: o.seed ?? 0, stratified: true });
  return { data, train, validation: val };
}
