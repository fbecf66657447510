// Node only: a GPU through Dawn (the `webgpu` npm package), falling back to SwiftShader (Vulkan on
// the CPU) when the machine has no GPU. Loaded by device.ts through a dynamic import so that
// browser bundles never see it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { GraftError } from '../core/index.ts';

const require = createRequire(import.meta.url);

export interface DawnGpu {
  gpu: GPU;
  /** How the Vulkan ICD and loader were found; empty for a real GPU. */
  via: string;
}

interface DawnModule {
  create(options: string[]): GPU;
  globals: Record<string, unknown>;
}

const SYSTEM_LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64', '/lib'];

function systemVulkanLoader(): string | null {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...SYSTEM_LIB_DIRS];
  for (const dir of dirs) {
    const p = path.join(dir, 'libvulkan.so.1');
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/** SwiftShader ICD candidates, in the order the issue asks: env override, system Chromium, npm Chromium. */
async function findSwiftShaderIcd(tried: string[]): Promise<string | null> {
  const fromEnv = process.env.GRAFT_VK_ICD;
  if (fromEnv) {
    tried.push(`GRAFT_VK_ICD=${fromEnv}`);
    if (fs.existsSync(fromEnv)) return fromEnv;
  }
  for (const p of ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json', '/opt/google/chrome/vk_swiftshader_icd.json']) {
    tried.push(p);
    if (fs.existsSync(p)) return p;
  }
  tried.push('@sparticuz/chromium (npm)');
  try {
    const mod = (await import('@sparticuz/chromium')) as unknown as { default: { executablePath(): Promise<string> } };
    const exe = await mod.default.executablePath();
    const icd = path.join(path.dirname(exe), 'vk_swiftshader_icd.json');
    if (fs.existsSync(icd)) return icd;
  } catch {
    // not installed, or it could not unpack: reported through `tried`
  }
  return null;
}

/**
 * Dawn looks for libvulkan.so.1 beside dawn.node before the system paths. Where the system has no
 * Vulkan loader, stage dawn.node next to the loader that ships with the SwiftShader ICD.
 */
function dawnModulePath(loaderDir: string | null): string {
  const packaged = path.join(path.dirname(webgpuEntry()), 'dist', `${process.platform}-${process.arch}`, 'dawn.node');
  if (!loaderDir) return packaged;
  const loader = path.join(loaderDir, 'libvulkan.so.1');
  const stat = fs.statSync(packaged);
  const stage = path.join(os.tmpdir(), `graft-dawn-${stat.size}-${Math.floor(stat.mtimeMs)}`);
  const staged = path.join(stage, 'dawn.node');
  if (!fs.existsSync(staged) || !fs.existsSync(path.join(stage, 'libvulkan.so.1'))) {
    fs.mkdirSync(stage, { recursive: true });
    fs.copyFileSync(loader, path.join(stage, 'libvulkan.so.1'));
    const tmp = `${staged}.${process.pid}`;
    fs.copyFileSync(packaged, tmp);
    fs.renameSync(tmp, staged);
  }
  return staged;
}

/** Where the `webgpu` package (Dawn, an optional peer dependency of graft-webgpu) is installed. */
function webgpuEntry(): string {
  try {
    return require.resolve('webgpu');
  } catch {
    throw new GraftError('WebGPU in Node needs the `webgpu` package (Dawn), which is not installed: npm install webgpu');
  }
}

let cached: Promise<DawnGpu> | null = null;

export function dawnGpu(options: { forceSwiftShader?: boolean } = {}): Promise<DawnGpu> {
  cached ??= openDawn(options);
  return cached;
}

async function openDawn(options: { forceSwiftShader?: boolean }): Promise<DawnGpu> {
  webgpuEntry(); // first: a missing `webgpu` package is the one thing to fix
  const tried: string[] = [];
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = os.tmpdir();
  const systemLoader = systemVulkanLoader();
  const userIcd = process.env.VK_ICD_FILENAMES;

  // 1. A real GPU (or the user's own ICD choice) through the system Vulkan loader.
  if (systemLoader && !options.forceSwiftShader) {
    const dawn = require(dawnModulePath(null)) as DawnModule;
    const gpu = dawn.create([]);
    tried.push(`system Vulkan loader ${systemLoader}${userIcd ? ` with VK_ICD_FILENAMES=${userIcd}` : ''}`);
    if (await gpu.requestAdapter()) {
      Object.assign(globalThis, dawn.globals);
      return { gpu, via: userIcd ? `VK_ICD_FILENAMES=${userIcd}` : '' };
    }
  }
  // 2. SwiftShader.
  const icd = await findSwiftShaderIcd(tried);
  if (!icd) throw noAdapterError(tried);
  process.env.VK_ICD_FILENAMES = icd;
  const icdDir = path.dirname(icd);
  const loaderDir = systemLoader ? null : fs.existsSync(path.join(icdDir, 'libvulkan.so.1')) ? icdDir : null;
  if (!systemLoader && !loaderDir) {
    tried.push(`a Vulkan loader (libvulkan.so.1) in ${SYSTEM_LIB_DIRS.join(', ')} or beside ${icd}`);
    throw noAdapterError(tried);
  }
  const dawn = require(dawnModulePath(loaderDir)) as DawnModule;
  const gpu = dawn.create([]);
  tried.push(`SwiftShader ICD ${icd}`);
  if (!(await gpu.requestAdapter())) throw noAdapterError(tried);
  Object.assign(globalThis, dawn.globals);
  return { gpu, via: `SwiftShader ICD ${icd}${loaderDir ? ` (Vulkan loader from ${loaderDir})` : ''}` };
}

function noAdapterError(tried: string[]): Error {
  return new Error(
    'graft: no WebGPU adapter in Node. Tried:\n  - ' + tried.join('\n  - ') +
      '\nTo fix: install a GPU driver with Vulkan, or a SwiftShader ICD: `npm install @sparticuz/chromium`, ' +
      'or Debian/Ubuntu `apt-get install chromium libvulkan1`, or point GRAFT_VK_ICD at a vk_swiftshader_icd.json.',
  );
}
