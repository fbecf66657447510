// Data: datasets, loaders, splits, IDX files, image datasets and folders, augmentation and
// preprocessing on the GPU.
export { ArrayDataset, LoaderDataset, Subset, DataLoader, arrayDataset, loaderDataset, subset, classCounts, trainValSplit, kFold, uploadBatch, mixSeed, shuffleInPlace } from './data.ts';
export type { Dataset, ItemShape, HostBatch, DataLoaderOptions, ArrayDatasetOptions, LoaderDatasetOptions, SplitOptions } from './data.ts';
export { parseIdx, readIdx, idxDataset, fashionMnist, FASHION_MNIST_CLASSES, FASHION_MNIST_DEBIAN_DIR } from './idx.ts';
export type { IdxArray } from './idx.ts';
export { imageDataset, imageToChw, colorChannels, fitImage } from './images.ts';
export type { ImageDatasetOptions } from './images.ts';
export { Augmentation, augmentation, preprocessOnGpu, fromModelPreprocessing } from './augment.ts';
export type { AugmentOptions, GpuPreprocessing } from './augment.ts';
export { imageFolder, imageFolderSplit, listImageFolder, IMAGE_EXTENSIONS } from './image-folder.ts';
export type { ImageFolderOptions, ImageFolderDataset, SkippedImage } from './image-folder.ts';
