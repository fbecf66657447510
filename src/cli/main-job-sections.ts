// The main job's extra sections: k-fold cross-validation of a new head on the frozen ImageNet
// features (computed once), the recipe comparison's note, the confusion matrix as a heat map and
// the misclassified validation images.
import type { DarknetTiny } from '../models/darknet.ts';
import { withHead } from '../models/heads.ts';
import type { Dataset } from '../data/data.ts';
import { type CrossValidation, crossValidate } from '../report/compare.ts';
import { confusionHeatmapSvg, imageGridSvg } from '../report/figures.ts';
import type { StepProgress } from '../report/progress.ts';
import { fit } from '../train/fit.ts';
import { type FeatureSet, headCut, tailFrom, trainFrom } from '../train/features.ts';
import { adam } from '../train/optim.ts';

export interface HeadCrossValidation extends CrossValidation {
  k: number;
  items: number;
  featureShape: number[];
}

/**
 * k-fold cross-validation (stratified, seeded) of a new classifier on `net`'s frozen features of the
 * training images: each fold trains a fresh head for `epochs` epochs on k-1 parts and reports its
 * best accuracy on the held-out part. The features are computed once, outside.
 */
export async function crossValidateHead(net: DarknetTiny, features: FeatureSet, o: { k: number; epochs: number; lr: number; batchSize: number; seed: number; bar?: StepProgress }): Promise<HeadCrossValidation> {
  const cut = headCut(net);
  const cv = await crossValidate(features.dataset, o.k, async (split, fold) => {
    o.bar?.update(fold, o.k, `fold ${fold + 1}/${o.k}`);
    withHead(net, { classes: features.dataset.numClasses, seed: o.seed + 11 + fold });
    trainFrom(net, cut);
    const optimizer = adam({ lr: o.lr });
    try {
      return await fit(tailFrom(net, cut, features.shape), split.train, { epochs: o.epochs, optimizer, batchSize: o.batchSize, seed: o.seed + fold, validation: split.validation });
    } finally {
      optimizer.dispose();
    }
  }, { seed: o.seed });
  o.bar?.end();
  return { ...cv, k: o.k, items: features.dataset.length, featureShape: features.shape };
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export function crossValidationMarkdown(cv: HeadCrossValidation, epochs: number): string {
  return [
    `A new classifier on the frozen ImageNet features (${cv.featureShape.join('x')} per image, computed once) of the ${cv.items} training images,`,
    `${cv.k}-fold stratified cross-validation, ${epochs} epochs per fold (the best epoch's accuracy on the held-out fold):`,
    '',
    `| fold | ${cv.folds.map((_, i) => i + 1).join(' | ')} | mean ± std |`,
    `|---|${cv.folds.map(() => '---:').join('|')}|---:|`,
    `| accuracy | ${cv.folds.map((f) => pct(f.accuracy)).join(' | ')} | **${pct(cv.mean)} ± ${(cv.std * 100).toFixed(1)}** |`,
    '',
    'The spread says how much one validation split can be trusted: a single split of this size moves by about the std.',
  ].join('\n');
}

/** The confusion matrix with the class names, as a heat map. */
export function confusionFigure(matrix: number[][], classNames: readonly string[], run: string) {
  return { file: 'confusion', title: `Confusion matrix of ${run} (heat map)`, svg: confusionHeatmapSvg(matrix, classNames, `Confusion matrix: ${run} on the validation images`) };
}

/** Up to `count` validation images the network got wrong, with the true and predicted class. */
export async function misclassifiedFigure(data: Dataset, predictions: ArrayLike<number>, classNames: readonly string[], run: string, count = 8) {
  const wrong: number[] = [];
  for (let i = 0; i < data.length && wrong.length < count; i++) if (predictions[i] !== data.label(i)) wrong.push(i);
  const [c, h, w] = data.itemShape;
  const images = [];
  for (const i of wrong) {
    images.push({ pixels: await data.read([i]), channels: (c === 3 ? 3 : 1) as 1 | 3, height: h, width: w, caption: [`true: ${classNames[data.label(i)]}`, `predicted: ${classNames[predictions[i]]}`] });
  }
  return { file: 'misclassified', title: `Misclassified validation images (${run}, first ${wrong.length})`, svg: imageGridSvg(images, `${run}: misclassified validation images`), shown: wrong.length };
}

