// Shapes: element counts, printing, comparison and the standard shape error.
import { GraftError } from './errors.ts';

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Throw the standard shape error: op name, what was expected and what came. */
export function shapeError(op: string, what: string, expected: string, actual: readonly number[] | string): never {
  throw new GraftError(`${op}: ${what} expected ${expected}, got ${typeof actual === 'string' ? actual : shapeStr(actual)}`);
}
