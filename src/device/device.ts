// One way to get a GPUDevice: navigator.gpu in a browser, Dawn in Node (with SwiftShader fallback).
import { GraftError } from '../core/index.ts';

export interface AdapterReport {
  /** 'browser' (navigator.gpu) or 'dawn' (Node). */
  runtime: 'browser' | 'dawn';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True when the adapter runs on the CPU (SwiftShader or another fallback). */
  isCpu: boolean;
  /** How the adapter was found (ICD path and loader in Node). */
  via: string;
  limits: Record<string, number>;
  features: string[];
}

export interface DeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Node: skip any real GPU and use SwiftShader. */
  forceSwiftShader?: boolean;
  /**
   * Lower some limits below what the adapter allows (to test split paths on small adapters). Graft
   * plans with these values even where they are below WebGPU's defaults.
   */
  limits?: Partial<Record<(typeof REQUESTED_LIMITS)[number], number>>;
  /**
   * Kernel variants chosen by measurement (README "Tuning"): 'off' (heuristics only), 'cached'
   * (measured choices from the cache, nothing measured), 'auto' (also measure each shape met
   * without a cached choice, after the next readback). Default: 'cached' on CPU adapters, 'auto' on GPUs.
   */
  tune?: 'off' | 'cached' | 'auto';
  /** Node: the folder that holds tuning/ (default: the download cache folder, $GRAFT_CACHE or ~/.cache/graft). */
  tuneCache?: string;
}

/** The limits Graft asks for at the adapter's maximum instead of WebGPU's defaults. */
export const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export interface OpenedDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  report: AdapterReport;
}

/** Node's WebGPU (Dawn), registered by the Node entry; browsers have navigator.gpu. */
export type NodeGpuProvider = () => Promise<{ gpu: GPU; via: string }>;
let nodeGpu: NodeGpuProvider | null = null;

export function setNodeGpu(provider: NodeGpuProvider): void {
  nodeGpu = provider;
}

async function navigatorGpu(): Promise<{ gpu: GPU; via: string; runtime: 'browser' | 'dawn' }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, via: 'navigator.gpu', runtime: 'browser' };
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) {
    throw new GraftError(
      'this browser exposes no navigator.gpu. Use a browser with WebGPU (Chrome/Edge 113+, or ' +
        'Chromium with --enable-unsafe-webgpu on Linux), served over https or localhost.',
    );
  }
  if (!nodeGpu) throw new GraftError("Node has no WebGPU of its own and Graft's Node entry was not loaded: import 'graft-webgpu' by that name in Node (its \"node\" export condition), which brings Dawn (npm install webgpu)");
  const { gpu, via } = await nodeGpu();
  return { gpu, via: via || 'Dawn (system Vulkan)', runtime: 'dawn' };
}

export async function openDevice(options: DeviceOptions = {}): Promise<OpenedDevice> {
  const { gpu, via, runtime } = await navigatorGpu();
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new GraftError(`${via} returned no adapter. Enable WebGPU (chrome://flags/#enable-unsafe-webgpu) or update the GPU driver.`);
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) {
    const max = (adapter.limits as unknown as Record<string, number>)[name];
    const wanted = options.limits?.[name];
    requiredLimits[name] = wanted !== undefined ? Math.min(wanted, max) : max;
  }
  const features: GPUFeatureName[] = [];
  for (const f of ['timestamp-query', 'subgroups'] as GPUFeatureName[]) if (adapter.features.has(f)) features.push(f);
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures: features });
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const description = info.description ?? '';
  const limits: Record<string, number> = {};
  // A request below WebGPU's default gets the default from the device, yet Graft plans with the
  // requested value (kernels then split as they would on a smaller adapter).
  for (const name of REQUESTED_LIMITS) limits[name] = Math.min((device.limits as unknown as Record<string, number>)[name], options.limits?.[name] ?? Infinity);
  const report: AdapterReport = {
    runtime,
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description,
    isCpu: /swiftshader|llvmpipe|lavapipe|cpu/i.test(`${info.vendor} ${info.architecture} ${description} ${via}`) || !!(info as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    via,
    limits,
    features: [...device.features].map(String).sort(),
  };
  return { device, adapter, report };
}
