// Find and launch a headless Chrome/Chromium with WebGPU for tests and benchmarks. Never downloads:
// GRAFT_CHROME or PUPPETEER_EXECUTABLE_PATH, then a system Chrome/Chromium, then @sparticuz/chromium
// (an npm package that ships headless Chromium and SwiftShader).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SYSTEM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/opt/google/chrome/chrome', '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'];

export async function resolveBrowser() {
  const tried = [];
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
    const { default: chromium } = await import('@sparticuz/chromium');
    const p = await chromium.executablePath();
    if (p && fs.existsSync(p)) return { path: p, source: '@sparticuz/chromium' };
  } catch (e) {
    tried.push(`  (${e.message})`);
  }
  throw new Error(`graft: no Chrome/Chromium found. Tried:\n  - ${tried.join('\n  - ')}\nSet GRAFT_CHROME to a Chrome binary, or npm install @sparticuz/chromium.`);
}

/** Flags that give headless Chromium WebGPU; on a machine without GPU it runs on SwiftShader. */
export function webgpuArgs({ cpu = true } = {}) {
  const args = [
    '--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-dev-shm-usage',
    '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-extensions',
    `--user-data-dir=${fs.mkdtempSync(path.join(os.tmpdir(), 'graft-chrome-'))}`,
  ];
  if (cpu) args.push('--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--disable-vulkan-surface');
  return args;
}

/** Launch puppeteer on the resolved browser. `cpu: false` lets Chrome pick a real GPU. */
export async function launchBrowser({ cpu = process.env.GRAFT_CHROME_GPU !== '1' } = {}) {
  const { default: puppeteer } = await import('puppeteer');
  const found = await resolveBrowser();
  const browser = await puppeteer.launch({ executablePath: found.path, args: webgpuArgs({ cpu }), headless: true, protocolTimeout: 0 });
  return { browser, found };
}
