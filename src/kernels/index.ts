// Every kernel family, for `graft doctor` and the compile test.
import type { KernelSource } from './runtime.ts';
import * as elementwise from './elementwise.ts';
import * as reduce from './reduce.ts';

export const families: Record<string, readonly KernelSource[]> = {
  elementwise: elementwise.kernels,
  reduce: reduce.kernels,
};
