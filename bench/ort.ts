// ONNX Runtime Web as a contender for model inference: its 'webgpu' and 'wasm' execution providers
// run the ONNX file bench/onnx.ts exported for a model row (from the state dict Graft loads), fed
// the same input. Each run creates the input tensor, runs the session and reads the output back
// to the CPU (ORT's default output location), inside the harness's timed region like every
// contender. Every other workload is n/a: ORT is measured on whole networks only.
import type * as OrtModule from 'onnxruntime-web';
import { GpuSpanTimer } from './gpu-timer.ts';
import type { OnnxModel } from './options.ts';
import type { Contender, Platform } from './contenders.ts';
import type { Prepared, Workload } from './workload.ts';

type Ort = typeof OrtModule;
export type OrtEp = 'webgpu' | 'wasm';

/** Why a workload has no ORT case: null when it has one (a model row with an exported file). */
export function ortUnavailable(w: Workload, model: OnnxModel | undefined): string | null {
  if (!w.onnx) return 'ONNX Runtime Web is benchmarked on model inference only';
  if (!model) return 'no ONNX file for this row (bench/onnx.ts runs before the runner: start the bench with npm run bench)';
  if ('unavailable' in model) return model.unavailable;
  return null;
}

/**
 * Import onnxruntime-web once for both providers. Single-threaded wasm: threads need
 * cross-origin isolation (COOP/COEP), which the bench page does not set, and tfjs-wasm runs on
 * one thread there too.
 */
let loaded: Promise<Ort> | null = null;
function importOrt(platform: Platform): Promise<Ort> {
  return (loaded ??= (async () => {
    const ort = (await platform.importOrt()) as Ort;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = platform.ortWasmPath;
    ort.env.logLevel = 'error';
    return ort;
  })());
}

/** The contender for one execution provider (a webgpu one where the platform has navigator.gpu). */
export async function ortContender(ep: OrtEp, platform: Platform, models: Record<string, OnnxModel>): Promise<Contender> {
  if (ep === 'webgpu') {
    if (!platform.ortWebGpu) throw new Error(`ONNX Runtime Web's webgpu provider does not run in ${platform.runner}: its Node build has the wasm provider only, and its browser build on Dawn's Node binding fails in session creation ('Invalid argument', 1.31.1); run it in Chrome`);
    const reason = await platform.provideWebGpu();
    if (reason) throw new Error(reason);
  }
  const ort = await importOrt(platform);
  // onnxruntime-web 1.31 ships SIMD builds only (ort-wasm-simd-threaded.*), run here on one thread.
  const info: Contender['info'] = { version: ort.env.versions.web ?? ort.env.versions.common ?? '?', executionProvider: ep, threads: 1, simd: true };
  if (ep === 'webgpu') {
    // ORT opens its own device on the default adapter: describe that adapter (the report's header).
    const a = await navigator.gpu.requestAdapter();
    info.adapter = [a?.info?.vendor, a?.info?.architecture, a?.info?.description].filter(Boolean).join(' / ');
  }
  let timerTried = false;
  const contender: Contender = {
    id: `ort-${ep}`,
    info,
    prepare: async (w: Workload): Promise<Prepared> => {
      const model = models[w.id];
      const why = ortUnavailable(w, model);
      if (why) return { unavailable: why };
      const m = model as Exclude<OnnxModel, { unavailable: string }>;
      if ('error' in m) throw new Error(m.error);
      const bytes = await platform.readOnnx(m.file);
      const session = await ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: 'all' });
      // GPU spans where ORT's device has 'timestamp-query' (the timer brackets the run on its queue).
      if (ep === 'webgpu' && !timerTried) {
        timerTried = true;
        contender.timer = await GpuSpanTimer.create((await Promise.resolve(ort.env.webgpu.device).catch(() => undefined)) as GPUDevice | undefined);
      }
      const { input, shape } = w.onnx!;
      const data = input();
      return {
        run: async () => {
          const x = new ort.Tensor('float32', data, shape);
          const result = await session.run({ x });
          const y = result.y;
          const values = (await y.getData(true)) as Float32Array;
          x.dispose();
          return [values];
        },
        dispose: () => void session.release(),
      };
    },
    // ORT allocates inside its wasm heap and its own GPU buffers: no high-water mark to read. The
    // run still happens: the harness's first warm-up is this probe, for every contender alike.
    peakBytes: async (instance) => {
      await instance.run();
      return null;
    },
    timer: null,
    compiles: ep === 'webgpu',
  };
  return contender;
}
