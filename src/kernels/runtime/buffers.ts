// Storage buffers: allocation from a size-classed pool, release (deferred while recorded commands
// may still use the buffer), trimming, and the live/pooled counts of stats(). Readback staging
// buffers (MAP_READ) have a pool of their own.
import { GraftError } from '../../core/index.ts';
import type { DeviceErrors } from './device-errors.ts';

/** Power-of-two classes up to 1 MiB, then 1/8 steps within each power of two: at most 12.5% slack. */
export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 16);
  if (b <= 1 << 20) return 1 << Math.ceil(Math.log2(b));
  const p = 1 << (Math.floor(Math.log2(b)) - 3);
  return Math.ceil(b / p) * p;
}

export interface PoolStats {
  liveBuffers: number;
  liveBytes: number;
  pooledBuffers: number;
  pooledBytes: number;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  /** Released while commands that may use them were not yet submitted: pooled after submit. */
  private pendingFree: GPUBuffer[] = [];
  private live = new Map<GPUBuffer, number>();
  private liveBytes = 0;
  private pooledBytes = 0;
  private pooledCount = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
    private readonly errors: DeviceErrors,
    /** Called before a buffer is destroyed (its cached bind groups go with it). */
    private readonly beforeDestroy: (buf: GPUBuffer) => void,
  ) {}

  /** A storage buffer of at least `bytes` bytes from the pool. Its contents are undefined. */
  alloc(bytes: number): GPUBuffer {
    if (bytes > this.maxBufferSize) {
      throw new GraftError(`out of memory: a buffer of ${bytes} bytes exceeds this adapter's maxBufferSize (${this.maxBufferSize})`);
    }
    // Every buffer is a multiple of 16 bytes, so kernels may read and write whole vec4s.
    let size = sizeClass(bytes);
    if (size > this.maxBufferSize) size = Math.ceil(bytes / 16) * 16;
    let buf = this.free.get(size)?.pop();
    if (buf) {
      this.pooledBytes -= size;
      this.pooledCount--;
    } else {
      this.device.pushErrorScope('out-of-memory');
      buf = this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      const liveBytes = this.liveBytes;
      const liveCount = this.live.size;
      this.errors.track(
        this.device.popErrorScope().then((err) => {
          if (err) this.errors.report(`out of memory: allocating ${size} bytes failed with ${liveBytes} bytes live in ${liveCount} buffers (${err.message}); dispose tensors or use scope()`);
        }),
      );
    }
    this.live.set(buf, size);
    this.liveBytes += size;
    return buf;
  }

  /**
   * Return a buffer to the pool. `deferred`: commands recorded but not yet submitted may use it, so
   * it is reused only after the next submit (afterSubmit).
   */
  release(buf: GPUBuffer, deferred: boolean): void {
    const size = this.live.get(buf);
    if (size === undefined) throw new GraftError('release of a buffer that is not live (double dispose?)');
    this.live.delete(buf);
    this.liveBytes -= size;
    if (deferred) this.pendingFree.push(buf);
    else this.toPool(buf);
  }

  /** Everything recorded so far was submitted: later queue writes are ordered after it. */
  afterSubmit(): void {
    for (const b of this.pendingFree) this.toPool(b);
    this.pendingFree = [];
  }

  private toPool(buf: GPUBuffer): void {
    const size = buf.size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
    this.pooledBytes += size;
    this.pooledCount++;
  }

  /** Destroy every pooled buffer (live ones are untouched). Call after a submit. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.beforeDestroy(b);
        b.destroy();
      }
    }
    this.free.clear();
    this.pooledBytes = 0;
    this.pooledCount = 0;
  }

  stats(): PoolStats {
    return {
      liveBuffers: this.live.size,
      liveBytes: this.liveBytes,
      pooledBuffers: this.pooledCount + this.pendingFree.length,
      pooledBytes: this.pooledBytes + this.pendingFree.reduce((s, b) => s + b.size, 0),
    };
  }

  /** Destroy every buffer, live and pooled. */
  destroy(): void {
    this.afterSubmit();
    this.trim();
    for (const b of this.live.keys()) b.destroy();
    this.live.clear();
    this.liveBytes = 0;
  }
}

/** Most staging buffers kept per size class (concurrent reads of one size need more than one). */
const STAGING_PER_CLASS = 4;
/** Larger staging buffers are not kept: big reads are rare and their copy dwarfs a createBuffer. */
const STAGING_MAX_POOLED = 16 << 20;

/** MAP_READ buffers for readback, reused by size class instead of created and destroyed per read. */
export class StagingPool {
  private free = new Map<number, GPUBuffer[]>();

  constructor(private readonly device: GPUDevice) {}

  /** An unmapped staging buffer of at least `bytes` bytes, for one read at a time. */
  take(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    return this.free.get(size)?.pop() ?? this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Return an unmapped staging buffer after its read. */
  give(buf: GPUBuffer): void {
    let list = this.free.get(buf.size);
    if (!list) this.free.set(buf.size, (list = []));
    if (list.length < STAGING_PER_CLASS && buf.size <= STAGING_MAX_POOLED) list.push(buf);
    else buf.destroy();
  }

  /** Pooled staging buffers (for stats and tests). */
  get pooled(): number {
    let n = 0;
    for (const list of this.free.values()) n += list.length;
    return n;
  }

  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
  }
}
