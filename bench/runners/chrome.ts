// Chrome runner: serve bench/page with Vite, open it in headless Chrome (src/testing, the
// same launcher as the Chrome test suite), relay the page's events. Returns the browser version.
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../../src/testing/index.ts';
import type { BenchOptions } from '../options.ts';
import type { BenchEvent } from '../suite.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function runChrome(opts: BenchOptions, onEvent: (e: BenchEvent) => void): Promise<string> {
  const { createServer } = await import('vite');
  const server = await createServer({ configFile: path.join(root, 'bench/page/vite.config.ts'), server: { port: 0 } });
  await server.listen();
  const { port } = server.httpServer!.address() as AddressInfo;
  const { browser, found } = await launchBrowser();
  const version = await browser.version();
  console.log(`browser: ${found.path} (${found.source}) ${version}`);
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.log(`  page error: ${(e as Error).message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`  console: ${m.text()}`);
    });
    let finish: (ok: boolean) => void = () => {};
    const done = new Promise<boolean>((resolve) => (finish = resolve));
    page.on('error', (e) => {
      console.log(`  the page crashed: ${e.message}`);
      finish(false);
    });
    await page.exposeFunction('graftBenchEvent', (e: BenchEvent) => {
      onEvent(e);
      if (e.type === 'done') finish(e.ms >= 0);
    });
    await page.goto(`http://127.0.0.1:${port}/bench/page/index.html?options=${encodeURIComponent(JSON.stringify(opts))}`);
    const timeoutMs = Number(process.env.GRAFT_BENCH_TIMEOUT_MS ?? 60 * 60_000);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ok = await Promise.race([done, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
    clearTimeout(timer);
    if (!ok) throw new Error('the Chrome run did not finish (crash, failure or timeout: see the log above)');
  } finally {
    await browser.close();
    await server.close();
  }
  return version;
}
