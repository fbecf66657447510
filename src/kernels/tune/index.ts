// Kernel variants chosen by measurement on the user's adapter. openTuning() gives a device its
// policy and the cached choices (read once, when the device opens); under 'auto' the runtime
// measures shapes met for the first time after the next readback and saves the cache.
// tune() measures what is pending now (`graft tune`, gpu.tune()).
import { GraftError } from '../../core/index.ts';
import { type Runtime, TUNE_POLICIES, type TunePolicy } from '../runtime/index.ts';
import { identityName, parseCache, serialize, tuneIdentity } from './cache.ts';
import { type MeasureOptions, type Measured, measurePending } from './measure.ts';

export { type MeasureOptions, type Measured, matchesReference, measureShape } from './measure.ts';
export { type TuneFamily, type TuneProblem, tuneFamilies } from './families.ts';
export { fnv1a, identityName, parseCache, serialize, tuneIdentity } from './cache.ts';

/** Where the choices of one identity are kept (io/tune-store.ts makes one per platform). */
export interface TuneStoreLike {
  readonly where: string;
  load(): Promise<string | null>;
  save(text: string): Promise<void>;
}

/** The default policy: the heuristics were measured on CPU adapters (SwiftShader), so there only cached choices; on GPUs, 'auto'. */
export function defaultPolicy(rt: Runtime): TunePolicy {
  return rt.report.isCpu ? 'cached' : 'auto';
}

const stores = new WeakMap<Runtime, TuneStoreLike>();

/**
 * Set the device's policy and load its cached choices. A cache that cannot be read as one is
 * ignored with a one-line warning (and replaced at the next save). `makeStore` gets the identity's
 * file name. Policy 'off' reads nothing.
 */
export async function openTuning(rt: Runtime, policy: TunePolicy | undefined, makeStore: (name: string) => TuneStoreLike, warn: (line: string) => void = (l) => console.warn(l)): Promise<void> {
  const p = policy ?? defaultPolicy(rt);
  if (!TUNE_POLICIES.includes(p)) throw new GraftError(`unknown tune policy '${String(p)}' (known: ${TUNE_POLICIES.join(', ')})`);
  rt.tuner.policy = p;
  if (p === 'off') return;
  const id = tuneIdentity(rt);
  const store = makeStore(identityName(id));
  stores.set(rt, store);
  const text = await store.load().catch((e: Error) => {
    warn(`graft: ignoring the tuning cache ${store.where}: cannot read it (${e.message})`);
    return null;
  });
  if (text !== null) {
    try {
      for (const [k, v] of parseCache(text, id)) rt.tuner.choices.set(k, v);
    } catch (e) {
      warn(`graft: ignoring the tuning cache ${store.where}: ${(e as Error).message}`);
    }
  }
  // Under 'auto', after a readback: a failure to measure or to save is a warning, never the read's error.
  rt.tuner.measure = async () => {
    const done = await measurePending(rt);
    for (const m of done) if (m.error) warn(`graft: could not measure ${m.family} ${m.key} (${m.error}); the default variant runs it`);
    await saveTuning(rt).catch((e: Error) => warn(`graft: could not save the tuning cache ${store.where}: ${e.message}`));
  };
}

/** Write the device's choices to its store (nothing under policy 'off'). */
export async function saveTuning(rt: Runtime): Promise<string | null> {
  const store = stores.get(rt);
  if (!store || rt.tuner.policy === 'off') return null;
  await store.save(serialize(tuneIdentity(rt), rt.tuner.choices));
  return store.where;
}

/** Where the device's choices are kept (null under policy 'off'). */
export function tuningLocation(rt: Runtime): string | null {
  return stores.get(rt)?.where ?? null;
}

/**
 * Measure every shape recorded so far (whatever the policy, except 'off') and save the cache.
 * With `record`, run `work` first with every shape it meets recorded, cached or not.
 */
export async function tune(rt: Runtime, opts: MeasureOptions & { work?: () => Promise<void> } = {}): Promise<Measured[]> {
  if (rt.tuner.policy === 'off') throw new GraftError("tuning is off for this device (graft({ tune: 'off' })): nothing is measured");
  if (opts.work) {
    rt.tuner.recordAll = true;
    try {
      await opts.work();
    } finally {
      rt.tuner.recordAll = false;
    }
  }
  const done = await measurePending(rt, opts);
  await saveTuning(rt);
  return done;
}
