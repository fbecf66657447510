// The tuner's state on one device: the policy, the measured choice per (family, shape key), and the
// shapes met that still need measuring. Kernel modules ask `choose()` at dispatch time; it only
// looks up an in-memory map (filled from the per-adapter cache when the device opens), so dispatch
// stays synchronous. Measuring is asynchronous and lives in kernels/tune/ (it runs kernels): the
// runtime calls the `measure` hook it was given after a readback, when shapes are pending.

/**
 * 'off': the built-in heuristics only; nothing is read, measured or written.
 * 'cached': choices from the cache are used; unseen shapes get the heuristic, nothing is measured.
 * 'auto': as 'cached', and a shape met without a cached choice is measured at the next readback.
 */
export type TunePolicy = 'off' | 'cached' | 'auto';
export const TUNE_POLICIES: readonly TunePolicy[] = ['off', 'cached', 'auto'];

/** One measured choice: the variant, and what the measurement saw (ms per variant, rejected ones). */
export interface TuneChoice {
  variant: string;
  /** Median milliseconds per variant (valid variants only). */
  times?: Record<string, number>;
  /** Variants whose result did not match the reference, with the largest difference seen. */
  rejected?: Record<string, string>;
  /** How the times were taken: 'timestamp' (GPU timestamp queries) or 'wall'. */
  timer?: string;
}

/** A shape met at dispatch time: its kernel family, key, and the variants that may run it. */
export interface TuneShape {
  family: string;
  key: string;
  candidates: readonly string[];
}

export class Tuner {
  policy: TunePolicy = 'off';
  /** Measured choices by `${family} ${key}`. */
  readonly choices = new Map<string, TuneChoice>();
  /** Shapes to measure (policy 'auto', or every shape met while `recordAll`). */
  readonly pending = new Map<string, TuneShape>();
  /** Shapes whose measurement failed: not measured again on this device (the heuristic runs them). */
  readonly failed = new Set<string>();
  /** `graft tune`: record every shape met, cached or not. */
  recordAll = false;
  /** Set while measuring: the measurement's own dispatches use the variant they are given. */
  measuring = false;
  /** Measures the pending shapes (kernels/tune/measure.ts installs it). */
  measure: (() => Promise<void>) | null = null;

  /**
   * The measured variant for this shape when it is one of `allowed`, else undefined (the caller's
   * heuristic then decides). Under 'auto' (or recordAll) an unmeasured shape is noted for measuring.
   */
  choose(family: string, key: string, allowed: readonly string[]): string | undefined {
    if (this.policy === 'off' || this.measuring) return undefined;
    const id = `${family} ${key}`;
    const hit = this.choices.get(id);
    const usable = hit && allowed.includes(hit.variant) ? hit.variant : undefined;
    if (this.recordAll || (this.policy === 'auto' && !usable && !this.failed.has(id))) {
      if (!this.pending.has(id)) this.pending.set(id, { family, key, candidates: [...allowed] });
    }
    return usable;
  }

  /** Whether a readback should be followed by measuring (auto policy, shapes pending, hook set). */
  get wantsMeasure(): boolean {
    return this.policy === 'auto' && !this.recordAll && !this.measuring && this.pending.size > 0 && this.measure !== null;
  }
}
