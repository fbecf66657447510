// A small Sequential conv net for 1x8x8 inputs (the quadrants toy problem of toy.ts), used by the
// features / recipes / ensemble tests. Stages: '0' conv, '1' BatchNorm, '2' ReLU, '3' max pool,
// '4' flatten, '6' dropout '5' + linear (the head).
import type { Gpu } from '../../src/graph/gpu.ts';
import { BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../../src/models/layers.ts';

export function smallNet(gpu: Gpu, seed = 1, classes = 4, dropout = 0.2): Sequential {
  return new Sequential(
    new Conv2d(gpu, 1, 4, 3, { padding: 1, seed }),
    new BatchNorm2d(gpu, 4),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Dropout(dropout, 100 + seed),
    new Linear(gpu, 64, classes, { seed: seed + 1 }),
  );
}
