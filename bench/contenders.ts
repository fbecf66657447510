// The contenders: Graft, TensorFlow.js on its webgpu, wasm and cpu backends, and ONNX Runtime Web
// on its webgpu and wasm execution providers (bench/ort.ts, model inference only). Each prepares a
// workload into a runnable instance, measures the memory high-water of one run, and (on WebGPU)
// carries a timestamp timer for its device.
import type * as TfCore from '@tensorflow/tfjs-core';
import { graft } from '../src/graph/gpu.ts';
import { GpuSpanTimer } from './gpu-timer.ts';
import { measureFmaPeak } from './peak.ts';
import { type ContenderId, type OnnxModel, ORT_CONTENDERS } from './options.ts';
import { ortContender } from './ort.ts';
import { type Instance, type Prepared, type Tf, type TfBackend, type Workload, isUnavailable } from './workload.ts';

export interface Contender {
  id: ContenderId;
  /** Versions, adapter, backend flags: shown in the report. */
  info: Record<string, string | number | boolean>;
  prepare(w: Workload): Promise<Prepared>;
  /** Bytes held at the high-water mark of one untimed run (null where it cannot be known). */
  peakBytes(instance: Instance): Promise<number | null>;
  timer: GpuSpanTimer | null;
  /** Compiles shaders on first use (a WebGPU contender). */
  compiles: boolean;
}

/** What differs between Node and the browser. */
export interface Platform {
  runner: 'node' | 'chrome';
  /** Make navigator.gpu available to tfjs-backend-webgpu; a reason string when it cannot be. */
  provideWebGpu(): Promise<string | null>;
  /** Folder (Node path or URL, with a trailing slash) of tfjs-backend-wasm's .wasm files. */
  wasmPath: string;
  /**
   * Node: run tfjs-webgpu's steps with Dawn's completion polling throttled, as Graft's runtime does
   * for its own waits (Dawn's Node binding otherwise re-posts itself with setImmediate and keeps a
   * CPU core busy that SwiftShader needs), so the binding's polling costs neither contender.
   */
  quietGpuWaits?<T>(run: () => Promise<T>): Promise<T>;
  /** import('onnxruntime-web') as the platform resolves it (a literal specifier each, for Vite). */
  importOrt(): Promise<unknown>;
  /** Folder (URL or path, trailing slash) of onnxruntime-web's .wasm and .mjs files. */
  ortWasmPath: string;
  /** Whether ORT's webgpu provider runs here (the browser build; ORT's Node build has wasm only). */
  ortWebGpu: boolean;
  /** The bytes of an ONNX file named relative to the repository root (bench/onnx.ts). */
  readOnnx(file: string): Promise<Uint8Array>;
}

export interface OpenedContenders {
  contenders: Contender[];
  /** Contenders asked for that could not start, with the reason. */
  unavailable: { id: ContenderId; reason: string }[];
}

async function graftContender(): Promise<Contender> {
  const gpu = await graft();
  const a = gpu.adapter;
  const peak = await measureFmaPeak(gpu);
  return {
    id: 'graft',
    info: {
      adapter: [a.vendor, a.architecture, a.description].filter(Boolean).join(' / '),
      via: a.via,
      cpuAdapter: a.isCpu,
      features: a.features.join(', '),
      // The adapter's FMA ceiling (bench/peak.ts): "% of peak" divides Graft's GFLOP/s by it.
      fmaPeakGflops: Number(peak.gflops.toFixed(2)),
    },
    prepare: async (w) => w.graft(gpu),
    // Graft's pool only grows until trimmed: trim it, run once, and what the allocator holds
    // (live + pooled) is the high-water mark of that run, inputs included.
    peakBytes: async (instance) => {
      gpu.rt.trimPool();
      await instance.run();
      const s = gpu.stats();
      return s.liveBytes + s.pooledBytes;
    },
    timer: await GpuSpanTimer.create(gpu.rt.device),
    compiles: true,
  };
}

function tfjsContender(tf: Tf, backend: TfBackend, info: Contender['info'], timer: GpuSpanTimer | null, platform: Platform): Contender {
  const quiet = backend === 'webgpu' ? platform.quietGpuWaits : undefined;
  return {
    id: `tfjs-${backend}`,
    info,
    prepare: async (w) => {
      if (tf.getBackend() !== backend && !(await tf.setBackend(backend))) return { unavailable: `tf.setBackend('${backend}') failed` };
      const prepared = await w.tfjs(tf, backend);
      if (!quiet || isUnavailable(prepared)) return prepared;
      return { ...prepared, run: () => quiet(() => prepared.run()) };
    },
    // tf.profile tracks the engine's tensor bytes and reports their peak (inputs included).
    peakBytes: async (instance) => (await tf.profile(async () => void (await instance.run()))).peakBytes,
    timer,
    compiles: backend === 'webgpu',
  };
}

/**
 * Open the contenders asked for; one that cannot start is reported, not fatal. `onnx`: the ONNX
 * file of each model row for the ORT contenders (BenchOptions.onnx).
 */
export async function openContenders(ids: ContenderId[], platform: Platform, log: (m: string) => void, onnx: Record<string, OnnxModel> = {}): Promise<OpenedContenders> {
  const out: OpenedContenders = { contenders: [], unavailable: [] };
  // Graft first: in Node it opens Dawn itself, before navigator.gpu is set up for tfjs.
  if (ids.includes('graft')) {
    try {
      out.contenders.push(await graftContender());
    } catch (e) {
      out.unavailable.push({ id: 'graft', reason: (e as Error).message });
    }
  }
  const tfIds = ids.filter((id) => id.startsWith('tfjs-'));
  if (tfIds.length) await openTfjs(tfIds, platform, out);
  for (const id of ids.filter((i) => ORT_CONTENDERS.includes(i))) {
    try {
      out.contenders.push(await ortContender(id === 'ort-webgpu' ? 'webgpu' : 'wasm', platform, onnx));
    } catch (e) {
      out.unavailable.push({ id, reason: (e as Error).message });
    }
  }
  log(`contenders: ${out.contenders.map((c) => c.id).join(', ')}${out.unavailable.length ? `; unavailable: ${out.unavailable.map((u) => `${u.id} (${u.reason})`).join('; ')}` : ''}`);
  return out;
}

/** Import tfjs and the backends asked for, and start each (tfjs-webgpu once navigator.gpu is there). */
async function openTfjs(tfIds: ContenderId[], platform: Platform, out: OpenedContenders): Promise<void> {
  const tf = (await import('@tensorflow/tfjs-core')) as unknown as typeof TfCore;
  // What tfjs recommends for speed: no debug checks (also silences its Node advice on tfjs-node).
  tf.enableProdMode();
  // tfjs-core alone registers no gradients; tfjs-layers registers all of them (as the
  // @tensorflow/tfjs bundle does), which the training workloads need.
  await import('@tensorflow/tfjs-layers');
  await import('@tensorflow/tfjs-backend-cpu');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(platform.wasmPath);
  let webgpuReason: string | null = null;
  if (tfIds.includes('tfjs-webgpu')) {
    webgpuReason = await platform.provideWebGpu();
    if (!webgpuReason) await import('@tensorflow/tfjs-backend-webgpu');
  }
  for (const id of tfIds) {
    const backend = id.slice('tfjs-'.length) as TfBackend;
    if (backend === 'webgpu' && webgpuReason) {
      out.unavailable.push({ id, reason: webgpuReason });
      continue;
    }
    try {
      if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') returned false (see the console for tfjs's reason)`);
      await tf.ready();
      const info: Contender['info'] = { version: tf.version_core };
      let timer: GpuSpanTimer | null = null;
      if (backend === 'wasm') {
        info.simd = Boolean(tf.env().getBool('WASM_HAS_SIMD_SUPPORT'));
        info.threads = Boolean(tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'));
      }
      if (backend === 'webgpu') {
        const b = tf.backend() as unknown as { device: GPUDevice; adapterInfo?: { vendor?: string; architecture?: string } };
        info.adapter = [b.adapterInfo?.vendor, b.adapterInfo?.architecture].filter(Boolean).join(' / ');
        info.features = [...b.device.features].map(String).sort().join(', ');
        timer = await GpuSpanTimer.create(b.device);
      }
      out.contenders.push(tfjsContender(tf, backend, info, timer, platform));
    } catch (e) {
      out.unavailable.push({ id, reason: (e as Error).message });
    }
  }
}
