// The Node run (forked by bench/cli.ts with the TypeScript loader): Graft and tfjs-webgpu on Dawn,
// tfjs-wasm, tfjs-cpu and ORT's wasm provider in this process. Events go back to the parent over the IPC channel.
import fs from 'node:fs';
import path from 'node:path';
import { installNodeHost } from '../../src/io/node/install.ts';
import type { Platform } from '../contenders.ts';
import type { BenchOptions } from '../options.ts';
import { type BenchEvent, runSuite } from '../suite.ts';

installNodeHost();

const send = (e: BenchEvent) => new Promise<void>((resolve, reject) => process.send!(e, undefined, undefined, (err) => (err ? reject(err) : resolve())));

const platform: Platform = {
  runner: 'node',
  wasmPath: path.resolve('node_modules/@tensorflow/tfjs-backend-wasm/dist') + path.sep,
  importOrt: () => import('onnxruntime-web'),
  ortWasmPath: path.resolve('node_modules/onnxruntime-web/dist') + path.sep,
  ortWebGpu: false,
  readOnnx: async (file) => new Uint8Array(await fs.promises.readFile(path.resolve(file))),
  // tfjs-backend-webgpu looks for navigator.gpu when it is imported: give it Dawn's GPU object,
  // the same one Graft opened (Node 20 has no navigator; Node 21+ has one without gpu).
  provideWebGpu: async () => {
    const { dawnGpu } = await import('../../src/device/dawn-node.ts');
    const { gpu } = await dawnGpu();
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    return null;
  },
  quietGpuWaits: async (run) => {
    const g = globalThis as unknown as { setImmediate: (fn: (...a: unknown[]) => void, ...args: unknown[]) => unknown };
    const saved = g.setImmediate;
    g.setImmediate = (fn, ...args) => setTimeout(fn, 1, ...args);
    try {
      return await run();
    } finally {
      g.setImmediate = saved;
    }
  },
};

const options = JSON.parse(process.argv[2]) as BenchOptions;
try {
  await runSuite(options, platform, send);
} catch (e) {
  await send({ type: 'log', message: `bench: the Node run failed: ${(e as Error).stack ?? e}` });
  process.exitCode = 1;
}
// Every event is delivered (send resolves on delivery): leave even if Dawn holds the event loop.
process.exit();
