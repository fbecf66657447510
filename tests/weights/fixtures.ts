// Where the weight-file fixtures are (tests/fixtures/weights, written by weights-tools/make_fixtures.py):
// a path in Node (vitest runs from the repository root), a URL on the Chrome test page's server.
import type { HostTensor } from '../../src/weights/state-dict.ts';
import { inNode } from '../../src/io/host.ts';
import { readSource } from '../../src/io/source.ts';

export function fixture(name: string): string {
  return inNode ? `tests/fixtures/weights/${name}` : `/tests/fixtures/weights/${name}`;
}

export async function fixtureBytes(name: string): Promise<Uint8Array> {
  // A private copy: tests corrupt bytes in place.
  return (await readSource(fixture(name))).slice();
}

export interface ExpectedTensor {
  shape: number[];
  values: number[];
  dtype?: string;
}

/** tests/fixtures/weights/tiny.expected.json: what numpy / torch hold, per fixture. */
export async function expectedTensors(): Promise<Record<'safetensors' | 'pth' | 'checkpoint', Record<string, ExpectedTensor>>> {
  return JSON.parse(new TextDecoder().decode(await readSource(fixture('tiny.expected.json'))));
}

/** Exact comparison, sign of zero included (the readers only reinterpret bits or widen; no rounding is allowed). */
export function sameTensor(name: string, actual: HostTensor | undefined, expected: { shape: readonly number[]; values: ArrayLike<number> }): string | null {
  if (!actual) return `${name}: missing`;
  if (actual.shape.join() !== expected.shape.join()) return `${name}: shape [${actual.shape}] != [${expected.shape}]`;
  if (actual.data.length !== expected.values.length) return `${name}: ${actual.data.length} values != ${expected.values.length}`;
  for (let i = 0; i < actual.data.length; i++) {
    if (!Object.is(actual.data[i], expected.values[i])) {
      return `${name}[${i}]: ${actual.data[i]} != ${expected.values[i]}`;
    }
  }
  return null;
}

/** Every mismatch between a reader's tensors and expected ones, as one list (empty when equal). */
export function compareAll(actual: Map<string, HostTensor>, expected: Record<string, ExpectedTensor>): string[] {
  return Object.entries(expected)
    .map(([name, e]) => sameTensor(name, actual.get(name), e))
    .filter((p): p is string => p !== null);
}
