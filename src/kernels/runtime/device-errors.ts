// What the device reports asynchronously: loss, uncaptured errors (validation, out-of-memory) and
// compile verdicts. Everything here surfaces at the next sync point (read, sync), compile errors
// first, so that a broken kernel is named instead of the 'invalid pipeline' errors it causes.
import { GraftError } from '../../core/index.ts';

export class DeviceErrors {
  /** Set when the device is lost; every later call throws it. */
  lostReason: string | null = null;
  /** Errors raised asynchronously by the device (validation, out-of-memory). */
  private asyncErrors: string[] = [];
  /** Errors that name their cause (a kernel that does not compile, an allocation that failed). */
  private namedErrors: string[] = [];
  /** Verdicts not yet in: awaited at every sync point so their message comes first. */
  private pending = new Set<Promise<void>>();

  constructor(device: GPUDevice) {
    device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
    device.addEventListener?.('uncapturederror', (ev: Event) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.asyncErrors.push(`${err.constructor?.name ?? 'GPUError'}: ${err.message}`);
    });
  }

  checkAlive(): void {
    if (this.lostReason !== null) throw new GraftError(`the GPU device was lost (${this.lostReason}); create a new one with graft()`);
  }

  /** Await `verdict` at the next sync point; it calls `report` with a message on failure. */
  track(verdict: Promise<void>): void {
    this.pending.add(verdict);
    verdict.finally(() => this.pending.delete(verdict));
  }

  /** A message that names its cause; thrown at the next sync point before the device's own. */
  report(message: string): void {
    this.namedErrors.push(message);
  }

  /** Throw asynchronous device errors, if any (called at every sync point); named errors first. */
  async throwPending(): Promise<void> {
    if (this.pending.size) await Promise.all(this.pending);
    this.checkAlive();
    if (this.namedErrors.length) {
      const errs = this.namedErrors.splice(0);
      this.asyncErrors.length = 0; // the follow-on 'invalid pipeline' errors say nothing more
      throw new GraftError(errs.join(' | '));
    }
    if (this.asyncErrors.length) {
      const errs = this.asyncErrors.splice(0);
      throw new GraftError(`the GPU reported ${errs.length} error(s): ${errs.join(' | ')}`);
    }
  }
}
