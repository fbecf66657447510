// The Chrome run: the options come in the URL, every event goes to puppeteer through
// window.graftBenchEvent (and onto the page, for a person watching).
import type { Platform } from '../contenders.ts';
import type { BenchOptions } from '../options.ts';
import { type BenchEvent, runSuite } from '../suite.ts';

declare global {
  interface Window {
    graftBenchEvent?: (e: BenchEvent) => Promise<void>;
  }
}

const log = document.getElementById('log')!;
const emit = async (e: BenchEvent) => {
  if (e.type === 'log') log.textContent += `\n${e.message}`;
  if (e.type === 'result') log.textContent += `\n${e.result.title}: ${e.result.verdict}`;
  await window.graftBenchEvent?.(e);
};

const platform: Platform = {
  runner: 'chrome',
  wasmPath: new URL('/node_modules/@tensorflow/tfjs-backend-wasm/dist/', location.href).href,
  provideWebGpu: async () => (navigator.gpu ? null : 'this browser exposes no navigator.gpu'),
  importOrt: () => import('onnxruntime-web'),
  // Served by the bench's Vite server from node_modules (no network), as tfjs-backend-wasm's files.
  ortWasmPath: new URL('/node_modules/onnxruntime-web/dist/', location.href).href,
  ortWebGpu: true,
  readOnnx: async (file) => {
    const r = await fetch(new URL(`/${file}`, location.href));
    if (!r.ok) throw new Error(`bench: ${file}: HTTP ${r.status} from the page server`);
    return new Uint8Array(await r.arrayBuffer());
  },
};

const options = JSON.parse(new URLSearchParams(location.search).get('options') ?? 'null') as BenchOptions | null;
if (!options) log.textContent = 'no ?options= given: start this page with `npm run bench`';
else {
  try {
    await runSuite(options, platform, emit);
  } catch (e) {
    await emit({ type: 'log', message: `bench: the Chrome run failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` });
    await emit({ type: 'done', ms: -1 });
  }
}
