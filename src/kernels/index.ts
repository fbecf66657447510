// Every kernel family, for `graft doctor` and the compile test.
import { type KernelSource } from './runtime/index.ts';
import * as batchnorm from './batchnorm.ts';
import * as conv2d from './conv2d.ts';
import * as counter from './counter.ts';
import * as dropout from './dropout.ts';
import * as elementwise from './elementwise.ts';
import * as matmul from './matmul.ts';
import * as pool from './pool.ts';
import * as reduce from './reduce.ts';
import * as softmax from './softmax.ts';
import * as optim from './optim.ts';
import * as penalty from './penalty.ts';
import * as augment from './augment.ts';

export const families: Record<string, readonly KernelSource[]> = {
  elementwise: elementwise.kernels,
  counter: counter.kernels,
  reduce: reduce.kernels,
  matmul: matmul.kernels,
  conv2d: conv2d.kernels,
  batchnorm: batchnorm.kernels,
  pool: pool.kernels,
  softmax: softmax.kernels,
  dropout: dropout.kernels,
  // training (src/train)
  optim: optim.kernels,
  penalty: penalty.kernels,
  augment: augment.kernels,
};
