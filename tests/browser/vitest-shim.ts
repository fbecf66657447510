// The part of vitest's API the shared test files use, for the Chrome run (aliased as 'vitest' by
// tests/browser/vite.config.ts). Tests register here; main.ts runs them and reports to puppeteer.

export interface RegisteredTest {
  name: string;
  fn: () => unknown;
  skip: boolean;
}

export const registry: RegisteredTest[] = [];
const path: string[] = [];

export function describe(name: string, fn: () => void): void {
  path.push(name);
  try {
    fn();
  } finally {
    path.pop();
  }
}

export function it(name: string, fn: () => unknown): void {
  registry.push({ name: [...path, name].join(' > '), fn, skip: false });
}
it.skip = (name: string, fn: () => unknown) => registry.push({ name: [...path, name].join(' > '), fn, skip: true });
export const test = it;

const show = (v: unknown): string => {
  try {
    return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x)) ?? String(v);
  } catch {
    return String(v);
  }
};

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b) || Array.isArray(a) || Array.isArray(b)) {
    const x = Array.from(a as ArrayLike<unknown>);
    const y = Array.from(b as ArrayLike<unknown>);
    return Array.isArray(a) === Array.isArray(b) && x.length === y.length && x.every((v, i) => deepEqual(v, y[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function matchError(err: unknown, expected?: RegExp | string): boolean {
  if (expected === undefined) return true;
  const msg = err instanceof Error ? err.message : String(err);
  return typeof expected === 'string' ? msg.includes(expected) : expected.test(msg);
}

function makeMatchers(actual: unknown, negate: boolean) {
  const check = (ok: boolean, what: string) => {
    if (ok === negate) throw new Error(`expected ${show(actual)} ${negate ? 'not ' : ''}${what}`);
  };
  return {
    toBe: (e: unknown) => check(Object.is(actual, e), `to be ${show(e)}`),
    toEqual: (e: unknown) => check(deepEqual(actual, e), `to equal ${show(e)}`),
    toStrictEqual: (e: unknown) => check(deepEqual(actual, e), `to equal ${show(e)}`),
    toBeCloseTo: (e: number, digits = 2) => check(Math.abs((actual as number) - e) < 10 ** -digits / 2, `to be close to ${e}`),
    toBeLessThan: (e: number) => check((actual as number) < e, `to be less than ${e}`),
    toBeLessThanOrEqual: (e: number) => check((actual as number) <= e, `to be <= ${e}`),
    toBeGreaterThan: (e: number) => check((actual as number) > e, `to be greater than ${e}`),
    toBeGreaterThanOrEqual: (e: number) => check((actual as number) >= e, `to be >= ${e}`),
    toBeTruthy: () => check(!!actual, 'to be truthy'),
    toBeFalsy: () => check(!actual, 'to be falsy'),
    toBeNull: () => check(actual === null, 'to be null'),
    toBeDefined: () => check(actual !== undefined, 'to be defined'),
    toBeUndefined: () => check(actual === undefined, 'to be undefined'),
    toContain: (e: unknown) => check((actual as { includes(x: unknown): boolean }).includes(e), `to contain ${show(e)}`),
    toMatch: (e: RegExp | string) => check(typeof e === 'string' ? String(actual).includes(e) : e.test(String(actual)), `to match ${e}`),
    toHaveLength: (n: number) => check((actual as { length: number }).length === n, `to have length ${n}`),
    toThrow: (e?: RegExp | string) => {
      let threw = false;
      let err: unknown;
      try {
        (actual as () => unknown)();
      } catch (x) {
        threw = true;
        err = x;
      }
      const ok = threw && matchError(err, e);
      if (ok === negate) throw new Error(`expected function ${negate ? 'not ' : ''}to throw${e ? ` ${e}` : ''}${threw ? `, it threw: ${err instanceof Error ? err.message : err}` : ', it did not throw'}`);
    },
  };
}

export function expect(actual: unknown) {
  const m = makeMatchers(actual, false);
  return Object.assign(m, {
    not: makeMatchers(actual, true),
    rejects: {
      toThrow: async (e?: RegExp | string) => {
        try {
          await (actual as Promise<unknown>);
        } catch (x) {
          if (!matchError(x, e)) throw new Error(`expected rejection matching ${e}, got: ${x instanceof Error ? x.message : x}`);
          return;
        }
        throw new Error('expected the promise to reject, it resolved');
      },
    },
    resolves: {
      toBeTruthy: async () => {
        if (!(await (actual as Promise<unknown>))) throw new Error('expected a truthy resolution');
      },
    },
  });
}

export function beforeAll(fn: () => unknown): void {
  registry.push({ name: [...path, '(beforeAll)'].join(' > '), fn, skip: false });
}
