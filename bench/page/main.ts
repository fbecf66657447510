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
