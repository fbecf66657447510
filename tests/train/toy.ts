// A small, fast classification problem for the training-loop tests: 1x8x8 images of noise with
// one bright 4x4 quadrant whose position is the class, and a small conv net with BatchNorm and
// Dropout (both carry state that a resumed run must restore).
import type { Gpu } from '../../src/graph/gpu.ts';
import { Module } from '../../src/graph/module.ts';
import type { Tensor } from '../../src/graph/tensor.ts';
import { BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../../src/models/layers.ts';
import { augmentation } from '../../src/data/augment.ts';
import { type Callback, lrSchedule } from '../../src/train/callbacks.ts';
import { type ArrayDataset, arrayDataset } from '../../src/data/data.ts';
import { crossEntropy, withPenalty } from '../../src/train/losses.ts';
import { sgd } from '../../src/train/optim.ts';
import { stepDecay } from '../../src/train/schedule.ts';
import { randArray } from '../helpers.ts';

export function quadrants(n: number, seed: number, classes = 4): ArrayDataset {
  const noise = randArray(n * 64, seed, 0, 0.5);
  const images = new Float32Array(n * 64);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    labels.push(k);
    const [qy, qx] = [k >> 1, k & 1];
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) images[i * 64 + y * 8 + x] = noise[i * 64 + y * 8 + x] + ((y >> 2) === qy && (x >> 2) === qx ? 0.5 : 0);
  }
  return arrayDataset({ images, labels, shape: [1, 8, 8], name: `quadrants(${n})` });
}

export class ToyNet extends Module {
  readonly features: Sequential;
  readonly classifier: Sequential;
  constructor(gpu: Gpu, seed = 1, classes = 4) {
    super();
    this.features = this.addModule('features', new Sequential(new Conv2d(gpu, 1, 4, 3, { padding: 1, seed }), new BatchNorm2d(gpu, 4), new ReLU(), new MaxPool2d(2)));
    this.classifier = this.addModule('classifier', new Sequential(new Flatten(), new Dropout(0.2, 1000 + seed), new Linear(gpu, 64, classes, { seed: seed + 1 })));
  }
  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.features.forward(x));
  }
}

/**
 * The training options of the resume tests (shared with the child process of
 * checkpoint.node.test.ts): shuffling, augmentation, Dropout, BatchNorm, Nesterov momentum, a
 * penalty, label smoothing and an LR schedule all carry state across epochs.
 */
export function resumeOptions() {
  return {
    batchSize: 16,
    optimizer: sgd({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
    loss: withPenalty(crossEntropy({ labelSmoothing: 0.1 }), { l2: 1e-3 }),
    validation: quadrants(16, 6),
    augment: augmentation({ randomCrop: { padding: 1 }, horizontalFlip: true }),
    callbacks: [lrSchedule(stepDecay(1, 0.7))] as Callback[],
  };
}
export const resumeTrainData = () => quadrants(48, 5);
