// The part of vitest's API the shared test files use, for the Chrome run (aliased as 'vitest' by
// tests/browser/vite.config.ts). Files register a tree of suites here (describe, it, beforeAll,
// afterAll); main.ts runs each file's tree with runFile() and reports every result to puppeteer.
// As in vitest, a hook that throws fails its suite: the failure is reported (and counted) under the
// hook's name, and the suite's tests are reported skipped, "not run".

export interface ShimTest {
  kind: 'test';
  name: string;
  fn: () => unknown;
  skip: boolean;
}

export interface ShimSuite {
  kind: 'suite';
  name: string;
  skip: boolean;
  children: (ShimTest | ShimSuite)[];
  beforeAll: (() => unknown)[];
  afterAll: (() => unknown)[];
}

export interface ShimResult {
  /** Suite names and the test's (or the hook's) name, joined by ' > '. */
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  ms: number;
  error?: string;
}

const newSuite = (name: string, skip = false): ShimSuite => ({ kind: 'suite', name, skip, children: [], beforeAll: [], afterAll: [] });
let current: ShimSuite = newSuite('');

/** Start a file's registration: what the file registers goes into the returned root suite. */
export function beginFile(): ShimSuite {
  current = newSuite('');
  return current;
}

function register(name: string, fn: () => void, skip: boolean): void {
  const parent = current;
  const suite = newSuite(name, skip);
  parent.children.push(suite);
  current = suite;
  try {
    fn();
  } finally {
    current = parent;
  }
}

export function describe(name: string, fn: () => void): void {
  register(name, fn, false);
}
describe.skip = (name: string, fn: () => void) => register(name, fn, true);
describe.skipIf = (condition: unknown) => (name: string, fn: () => void) => register(name, fn, !!condition);
describe.runIf = (condition: unknown) => (name: string, fn: () => void) => register(name, fn, !condition);

export function it(name: string, fn: () => unknown): void {
  current.children.push({ kind: 'test', name, fn, skip: false });
}
it.skip = (name: string, fn: () => unknown) => void current.children.push({ kind: 'test', name, fn, skip: true });
it.skipIf = (condition: unknown) => (name: string, fn: () => unknown) => void current.children.push({ kind: 'test', name, fn, skip: !!condition });
it.runIf = (condition: unknown) => (name: string, fn: () => unknown) => void current.children.push({ kind: 'test', name, fn, skip: !condition });
export const test = it;

export function beforeAll(fn: () => unknown): void {
  current.beforeAll.push(fn);
}

export function afterAll(fn: () => unknown): void {
  current.afterAll.push(fn);
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function timed(fn: () => unknown): Promise<{ ms: number; error?: string }> {
  const start = performance.now();
  try {
    await fn();
    return { ms: performance.now() - start };
  } catch (e) {
    return { ms: performance.now() - start, error: errorText(e) };
  }
}

/** Every test under a suite, reported skipped with a reason (its suite is skipped or failed). */
async function skipAll(suite: ShimSuite, path: string[], why: string, report: (r: ShimResult) => Promise<void>): Promise<void> {
  for (const c of suite.children) {
    if (c.kind === 'suite') await skipAll(c, [...path, c.name], why, report);
    else await report({ name: [...path, `${c.name}${why}`].join(' > '), status: 'skipped', ms: 0 });
  }
}

/**
 * Run a suite tree in registration order: its beforeAll hooks, its tests and child suites, then its
 * afterAll hooks (run even when a beforeAll failed, as vitest does). A failing hook is one failed
 * result named '<suite> > (beforeAll)' or '(afterAll)'.
 */
export async function runSuite(suite: ShimSuite, report: (r: ShimResult) => Promise<void>, path: string[] = []): Promise<void> {
  if (suite.skip) return skipAll(suite, path, '', report);
  let hookFailed = false;
  for (const hook of suite.beforeAll) {
    const r = await timed(hook);
    if (r.error !== undefined) {
      await report({ name: [...path, '(beforeAll)'].join(' > '), status: 'failed', ms: r.ms, error: r.error });
      hookFailed = true;
      break;
    }
  }
  if (hookFailed) await skipAll(suite, path, ' (not run: its beforeAll failed)', report);
  else {
    for (const c of suite.children) {
      if (c.kind === 'suite') await runSuite(c, report, [...path, c.name]);
      else if (c.skip) await report({ name: [...path, c.name].join(' > '), status: 'skipped', ms: 0 });
      else {
        const r = await timed(c.fn);
        await report({ name: [...path, c.name].join(' > '), status: r.error === undefined ? 'passed' : 'failed', ms: r.ms, error: r.error });
      }
    }
  }
  for (const hook of suite.afterAll) {
    const r = await timed(hook);
    if (r.error !== undefined) await report({ name: [...path, '(afterAll)'].join(' > '), status: 'failed', ms: r.ms, error: r.error });
  }
}

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
    toBeInstanceOf: (c: new (...a: never[]) => unknown) => check(actual instanceof c, `to be an instance of ${c.name}`),
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
      toBeInstanceOf: async (c: new (...a: never[]) => unknown) => {
        try {
          await (actual as Promise<unknown>);
        } catch (x) {
          if (!(x instanceof c)) throw new Error(`expected a rejection with ${c.name}, got: ${x instanceof Error ? `${x.name}: ${x.message}` : x}`);
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
