// GPU time of one run from timestamp queries, for contenders that run on WebGPU ('timestamp-query').
// The same method for Graft and tfjs-webgpu: an empty compute pass that writes a timestamp is
// submitted before the run, another after it; the difference is the span of queue time the run's
// work occupied (including any idle gaps while the CPU was still recording commands). Both
// brackets are submitted outside the timed region.

export class GpuSpanTimer {
  private constructor(
    private readonly device: GPUDevice,
    private readonly querySet: GPUQuerySet,
    private readonly resolve: GPUBuffer,
    private readonly readback: GPUBuffer,
  ) {}

  /** A timer for this device, or null where the device was created without 'timestamp-query'. */
  static async create(device: GPUDevice | null | undefined): Promise<GpuSpanTimer | null> {
    if (!device || !device.features.has('timestamp-query')) return null;
    device.pushErrorScope('validation');
    const querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
    const resolve = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readback = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const error = await device.popErrorScope();
    return error ? null : new GpuSpanTimer(device, querySet, resolve, readback);
  }

  private bracket(write: GPUComputePassTimestampWrites, finish?: (enc: GPUCommandEncoder) => void): void {
    const encoder = this.device.createCommandEncoder();
    encoder.beginComputePass({ timestampWrites: write }).end();
    finish?.(encoder);
    this.device.queue.submit([encoder.finish()]);
  }

  /** Submit the opening timestamp. */
  begin(): void {
    this.bracket({ querySet: this.querySet, beginningOfPassWriteIndex: 0 });
  }

  /** Submit the closing timestamp and return the span in ms (null if the device gave nonsense). */
  async end(): Promise<number | null> {
    this.bracket({ querySet: this.querySet, endOfPassWriteIndex: 1 }, (enc) => {
      enc.resolveQuerySet(this.querySet, 0, 2, this.resolve, 0);
      enc.copyBufferToBuffer(this.resolve, 0, this.readback, 0, 16);
    });
    await this.readback.mapAsync(GPUMapMode.READ);
    const [t0, t1] = new BigUint64Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    if (t1 <= t0) return null;
    return Number(t1 - t0) / 1e6;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolve.destroy();
    this.readback.destroy();
  }
}
