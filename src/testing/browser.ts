// Node only: headless Chrome/Chromium with WebGPU for tests, benchmarks and rendering, on any
// machine. Never downloads a browser: GRAFT_CHROME or PUPPETEER_EXECUTABLE_PATH, then a system
// Chrome/Chromium, then @sparticuz/chromium (an npm package that ships headless Chromium and
// SwiftShader). On a machine without a GPU, the flags give WebGPU on SwiftShader (Vulkan on the CPU);
// `cpu: false` (or GRAFT_CHROME_GPU=1) lets Chrome use the real GPU.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'puppeteer';

const SYSTEM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/opt/google/chrome/chrome', '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'];

export interface FoundBrowser {
  path: string;
  /** Which rule found it: an env var name, 'system' or '@sparticuz/chromium'. */
  source: string;
}

/** The Chrome/Chromium binary to drive, or an error listing every place that was tried. */
export async function resolveBrowser(): Promise<FoundBrowser> {
  const tried: string[] = [];
  for (const name of ['GRAFT_CHROME', 'PUPPETEER_EXECUTABLE_PATH']) {
    const p = process.env[name];
    if (p) {
      tried.push(`${name}=${p}`);
      if (fs.existsSync(p)) return { path: p, source: name };
    }
  }
  for (const p of SYSTEM) {
    tried.push(p);
    if (fs.existsSync(p)) return { path: p, source: 'system' };
  }
  tried.push('@sparticuz/chromium (npm)');
  try {
    const { default: chromium } = (await import('@sparticuz/chromium')) as unknown as { default: { executablePath(): Promise<string> } };
    const p = await chromium.executablePath();
    if (p && fs.existsSync(p)) return { path: p, source: '@sparticuz/chromium' };
  } catch (e) {
    tried.push(`  (${(e as Error).message})`);
  }
  throw new Error(`graft: no Chrome/Chromium found. Tried:\n  - ${tried.join('\n  - ')}\nSet GRAFT_CHROME to a Chrome binary, or npm install @sparticuz/chromium.`);
}

/** Flags that give headless Chromium WebGPU; with `cpu` (default) it runs on SwiftShader. */
export function webgpuArgs({ cpu = true }: { cpu?: boolean } = {}): string[] {
  const args = [
    '--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-dev-shm-usage',
    '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-extensions',
    `--user-data-dir=${fs.mkdtempSync(path.join(os.tmpdir(), 'graft-chrome-'))}`,
  ];
  if (cpu) args.push('--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--disable-vulkan-surface');
  return args;
}

/** Launch puppeteer (a peer dependency of this entry) on the resolved browser; `args`: more Chrome flags. */
export async function launchBrowser({ cpu = process.env.GRAFT_CHROME_GPU !== '1', args = [] }: { cpu?: boolean; args?: string[] } = {}): Promise<{ browser: Browser; found: FoundBrowser }> {
  let puppeteer: typeof import('puppeteer').default;
  try {
    puppeteer = (await import('puppeteer')).default;
  } catch {
    throw new Error('graft: driving Chrome needs puppeteer: npm install --save-dev puppeteer (set PUPPETEER_SKIP_DOWNLOAD=1 to use the browser found here)');
  }
  const found = await resolveBrowser();
  const browser = await puppeteer.launch({ executablePath: found.path, args: [...webgpuArgs({ cpu }), ...args], headless: true, protocolTimeout: 0 });
  return { browser, found };
}

/** Screenshot each SVG to a PNG of its own size with headless Chrome; the reason when there is no browser. */
export async function renderSvgs(items: { svg: string; file: string }[]): Promise<{ rendered: boolean; reason?: string }> {
  let launched;
  try {
    launched = await launchBrowser();
  } catch (e) {
    return { rendered: false, reason: `no headless Chrome could be started (${(e as Error).message.split('\n')[0]})` };
  }
  try {
    const page = await launched.browser.newPage();
    for (const { svg, file } of items) {
      const width = Number(/width="(\d+)"/.exec(svg)?.[1] ?? 640);
      const height = Number(/height="(\d+)"/.exec(svg)?.[1] ?? 400);
      await page.setViewport({ width, height });
      await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
      await page.screenshot({ path: file as `${string}.png`, clip: { x: 0, y: 0, width, height } });
    }
    return { rendered: true };
  } catch (e) {
    return { rendered: false, reason: `headless Chrome failed to render (${(e as Error).message.split('\n')[0]})` };
  } finally {
    await launched.browser.close();
  }
}
