// The fine-tuning demo (examples/demo) end to end in headless Chrome (SwiftShader on a CPU-only
// machine), as a visitor uses it: load darknet-tiny's ImageNet weights, add two Fashion-MNIST classes
// (trousers, sneakers) by uploading PNGs, train, check the validation accuracy and the confusion
// matrix, predict an unseen image, export the network, reload the page, load the export back and get
// the same prediction; the speed panel; and bad input: images of different sizes, an unsupported
// weight file, a browser without navigator.gpu. No console error anywhere. Screenshot:
// test-results/demo.png (docs/demo.png in the README is a copy).
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, resolveBrowser } from '../../src/testing/index.ts';
import { ensureBuilt, root } from '../package/built.ts';
import { writeFashionPngs } from '../package/fashion-pngs.ts';
import { PNG } from 'pngjs';

const weightsDir = path.resolve(root, '../shared/pretrained');
const haveWeights = fs.existsSync(path.join(weightsDir, 'darknet-tiny/model.json'));
const haveBrowser = await resolveBrowser().then(() => true, () => false);
const skip = !haveWeights ? 'no ../shared/pretrained/darknet-tiny' : !haveBrowser ? 'no Chrome/Chromium found' : '';
const suite = skip ? describe.skip : describe;
if (skip) it.skip(`the demo page end to end (skipped: ${skip})`, () => {});

suite('the fine-tuning demo in headless Chrome', () => {
  let browser: Browser;
  let close: () => Promise<void> = async () => {};
  let url = '';
  let tmp = '';
  let images: Record<string, string[]> = {};
  let unseen = '';
  const errors: string[] = [];

  const watch = (page: Page, into: string[]) => {
    page.on('pageerror', (e) => into.push(`pageerror: ${(e as Error).message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') into.push(`console: ${m.text()}`);
    });
  };
  const text = (page: Page, sel: string) => page.$eval(sel, (e) => (e as HTMLElement).innerText);
  const statusIsError = (page: Page) => page.$eval('#status', (e) => e.className === 'error');

  beforeAll(async () => {
    const built = ensureBuilt();
    expect(built.ok, built.out).toBe(true);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-demo-'));
    images = writeFashionPngs(path.join(tmp, 'images'), [1, 7], 24); // trouser, sneaker
    [unseen] = writeFashionPngs(path.join(tmp, 'unseen'), [7], 1, 24).sneaker;
    const { build, preview } = await import('vite');
    const config = path.join(root, 'examples/demo/vite.config.ts');
    process.env.GRAFT_WEIGHTS_DIR = weightsDir;
    await build({ configFile: config, logLevel: 'error' });
    const server = await preview({ configFile: config, preview: { port: 0, host: '127.0.0.1' }, logLevel: 'error' });
    url = `http://127.0.0.1:${(server.httpServer.address() as AddressInfo).port}/`;
    close = () => new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
    ({ browser } = await launchBrowser());
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('cancels a run, trains two Fashion-MNIST classes, predicts, exports and loads the network back', async () => {
    const page = await browser.newPage();
    watch(page, errors);
    await page.setViewport({ width: 1400, height: 1000 });
    await page.goto(url);
    await page.waitForFunction('window.demo && window.demo.ready', { timeout: 60_000 });

    await page.click('#load-backbone');
    await page.waitForFunction(() => /tensors/.test(document.getElementById('backbone-info')!.textContent!) || document.getElementById('status')!.className === 'error', { timeout: 120_000 });
    expect(await statusIsError(page), await text(page, '#status')).toBe(false);
    expect(await text(page, '#backbone-info')).toMatch(/darknet-tiny .*layers-model, \d+ tensors/);

    for (const name of ['trouser', 'sneaker']) {
      await page.type('#class-name', name);
      await page.click('#add-class');
      const input = await page.waitForSelector(`.class-card[data-class="${name}"] .class-files`);
      await (input as import('puppeteer').ElementHandle<HTMLInputElement>).uploadFile(...images[name]);
      await page.waitForFunction((n) => document.querySelector(`.class-card[data-class="${n}"] .count`)!.textContent === '24 images', {}, name);
    }
    await page.$eval('#size', (e) => ((e as HTMLInputElement).value = '32'));
    await page.select('#recipe', 'feature-extraction');
    // Cancel: a long run stopped once its first batch is done; no network is kept.
    await page.$eval('#epochs', (e) => ((e as HTMLInputElement).value = '100'));
    await page.click('#train');
    await page.waitForFunction(() => /^epoch \d+\/100, batch/.test(document.getElementById('progress-text')!.textContent!) || document.getElementById('status')!.className === 'error', { timeout: 120_000 });
    await page.click('#cancel');
    await page.waitForFunction(() => /cancelled/.test(document.getElementById('status')!.textContent!), { timeout: 60_000 });
    expect(await text(page, '#status')).toBe('Training cancelled; the previous network (if any) is kept.');
    expect(await page.evaluate('window.demo.trained')).toBe(false);
    expect(await page.$eval('#train', (b) => (b as HTMLButtonElement).disabled)).toBe(false);

    await page.$eval('#epochs', (e) => ((e as HTMLInputElement).value = '5'));
    await page.click('#train');
    await page.waitForFunction(() => document.getElementById('val-accuracy') || document.getElementById('status')!.className === 'error', { timeout: 240_000 });
    expect(await statusIsError(page), await text(page, '#status')).toBe(false);
    const accuracy = parseFloat(await text(page, '#val-accuracy'));
    expect(accuracy).toBeGreaterThan(50); // two classes: chance is 50%
    // Learning curves: loss and accuracy charts with the validation series; the confusion matrix
    // counts every validation image (12 of 48 with a 0.25 split).
    expect(await page.$$eval('#curves svg', (s) => s.length)).toBe(2);
    expect(await text(page, '#curves')).toMatch(/validation/);
    const matrix = await page.$$eval('#confusion-table tr', (rows) => rows.slice(1).map((r) => Array.from(r.querySelectorAll('td')).map((td) => Number(td.textContent))));
    expect(matrix.length).toBe(2);
    expect(matrix.flat().reduce((a, b) => a + b, 0)).toBe(12);
    expect((100 * (matrix[0][0] + matrix[1][1])) / 12).toBeCloseTo(accuracy, 1);

    const predict = async (p: Page) => {
      await p.$eval('#predictions', (e) => (e.innerHTML = ''));
      const input = (await p.$('#predict-file')) as import('puppeteer').ElementHandle<HTMLInputElement>;
      await input.uploadFile(unseen);
      await p.waitForFunction(() => document.querySelectorAll('#predictions li').length === 2 || document.getElementById('status')!.className === 'error', { timeout: 60_000 });
      expect(await statusIsError(p), await text(p, '#status')).toBe(false);
      return p.$$eval('#predictions li', (lis) => lis.map((li) => li.textContent!));
    };
    const before = await predict(page);
    fs.mkdirSync(path.join(root, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(root, 'test-results/demo.png'), fullPage: true });
    expect(before[0]).toMatch(/^sneaker: /);
    const percents = before.map((t) => parseFloat(t.split(': ')[1]));
    expect(percents[0] + percents[1]).toBeCloseTo(100, 0);

    await page.click('#export');
    await page.waitForFunction(() => !(document.getElementById('download') as HTMLAnchorElement).hidden);
    const exported = await page.$eval('#download', async (a) => {
      const bytes = new Uint8Array(await (await fetch((a as HTMLAnchorElement).href)).arrayBuffer());
      let s = '';
      for (const b of bytes) s += String.fromCharCode(b);
      return { name: (a as HTMLAnchorElement).download, base64: btoa(s) };
    });
    expect(exported.name).toMatch(/^darknet-tiny-.*\.safetensors$/);
    const file = path.join(tmp, exported.name);
    fs.writeFileSync(file, Buffer.from(exported.base64, 'base64'));

    // A dropped weight file as the backbone: the export itself (its 2-class head is replaced anyway).
    const weightsInput = (await page.$('#weights-file')) as import('puppeteer').ElementHandle<HTMLInputElement>;
    await weightsInput.uploadFile(file);
    await page.waitForFunction((n) => document.getElementById('backbone-info')!.textContent!.startsWith(`darknet-tiny from ${n}: safetensors`) || document.getElementById('status')!.className === 'error', { timeout: 60_000 }, exported.name);
    expect(await statusIsError(page), await text(page, '#status')).toBe(false);

    await page.reload();
    await page.waitForFunction('window.demo && window.demo.ready', { timeout: 60_000 });
    const load = (await page.$('#load-model')) as import('puppeteer').ElementHandle<HTMLInputElement>;
    await load.uploadFile(file);
    await page.waitForFunction(() => document.getElementById('loaded-model') || document.getElementById('status')!.className === 'error', { timeout: 60_000 });
    expect(await statusIsError(page), await text(page, '#status')).toBe(false);
    expect(await text(page, '#loaded-model')).toBe('loaded: darknet-tiny, classes trouser, sneaker');
    const after = await predict(page);
    expect(after.map((t) => t.split(': ')[0])).toEqual(before.map((t) => t.split(': ')[0]));
    after.forEach((t, i) => expect(Math.abs(parseFloat(t.split(': ')[1]) - percents[i])).toBeLessThanOrEqual(0.1));
    await page.close();
    expect(errors).toEqual([]);
  }, 420_000);

  it('the speed panel times Graft and TF.js webgpu in the page', async () => {
    const page = await browser.newPage();
    const own: string[] = [];
    watch(page, own);
    await page.goto(url);
    await page.waitForFunction('window.demo && window.demo.ready', { timeout: 60_000 });
    await page.click('#speed');
    await page.waitForFunction(() => /^done|not available/.test(document.getElementById('speed-status')!.textContent!), { timeout: 180_000 });
    const rows = await page.$$eval('#speed-table tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent!)));
    expect(rows.length).toBe(3);
    for (const [, graftMs, tfjsMs] of rows) {
      expect(Number(graftMs)).toBeGreaterThan(0);
      expect(Number(tfjsMs)).toBeGreaterThan(0);
    }
    await page.close();
    expect(own).toEqual([]);
  }, 240_000);

  it('the webcam adds pictures to a class (Chrome\'s fake camera); predicting with no network is a clear message', async () => {
    const { browser: withCamera } = await launchBrowser({ args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] });
    try {
      const page = await withCamera.newPage();
      const own: string[] = [];
      watch(page, own);
      await page.goto(url);
      await page.waitForFunction('window.demo && window.demo.ready', { timeout: 60_000 });
      await page.type('#class-name', 'camera');
      await page.click('#add-class');
      const button = await page.waitForSelector('.class-card[data-class="camera"] .class-webcam');
      for (const n of [1, 2]) {
        await button!.click();
        await page.waitForFunction((k) => document.querySelector('.class-card[data-class="camera"] .count')!.textContent === `${k} images` || document.getElementById('status')!.className === 'error', { timeout: 30_000 }, n);
        expect(await statusIsError(page), await text(page, '#status')).toBe(false);
      }
      expect(await page.$$eval('.class-card[data-class="camera"] .thumbs img', (imgs) => imgs.length)).toBe(2);
      // Predicting from the camera before any network exists: a clear message, no crash.
      await page.click('#predict-webcam');
      await page.waitForFunction(() => document.getElementById('status')!.className === 'error', { timeout: 30_000 });
      expect(await text(page, '#status')).toBe('train a network (3) or load one (5) first');
      expect(own).toEqual([]);
    } finally {
      await withCamera.close();
    }
  }, 120_000);

  it('bad input: images of different sizes, unsupported weight files, a model.json without its shards (and with them), a browser without navigator.gpu', async () => {
    const page = await browser.newPage();
    const own: string[] = [];
    watch(page, own);
    await page.goto(url);
    await page.waitForFunction('window.demo && window.demo.ready', { timeout: 60_000 });
    // A 32x32 image among 28x28 ones.
    const odd = path.join(tmp, 'odd.png');
    const png = new PNG({ width: 32, height: 32 });
    png.data.fill(200);
    fs.writeFileSync(odd, PNG.sync.write(png));
    for (const [name, files] of [['a', [images.trouser[0], images.trouser[1]]], ['b', [images.sneaker[0], odd]]] as const) {
      await page.type('#class-name', name);
      await page.click('#add-class');
      const input = (await page.waitForSelector(`.class-card[data-class="${name}"] .class-files`)) as import('puppeteer').ElementHandle<HTMLInputElement>;
      await input.uploadFile(...files);
      await page.waitForFunction((n) => document.querySelector(`.class-card[data-class="${n}"] .count`)!.textContent === '2 images', {}, name);
    }
    await page.click('#train');
    await page.waitForFunction(() => document.getElementById('status')!.className === 'error', { timeout: 60_000 });
    expect(await text(page, '#status')).toMatch(/odd\.png: image is 32x32 \(WxH\), expected 28x28 like the others.*same size/);
    expect(await page.$eval('#train', (b) => (b as HTMLButtonElement).disabled)).toBe(false);

    // Weight files: a text file, and junk named .safetensors.
    const txt = path.join(tmp, 'notes.txt');
    fs.writeFileSync(txt, 'not weights');
    const junk = path.join(tmp, 'junk.safetensors');
    fs.writeFileSync(junk, 'this is not a safetensors file at all');
    const weights = (await page.$('#weights-file')) as import('puppeteer').ElementHandle<HTMLInputElement>;
    await weights.uploadFile(txt);
    await page.waitForFunction(() => document.getElementById('status')!.className === 'error');
    expect(await text(page, '#status')).toMatch(/^notes\.txt: not a weight file Graft reads/);
    await page.$eval('#status', (e) => (e.className = ''));
    await weights.uploadFile(junk);
    await page.waitForFunction(() => document.getElementById('status')!.className === 'error', { timeout: 30_000 });
    expect(await text(page, '#status')).toMatch(/unrecognised weight file|safetensors/);
    expect(await text(page, '#backbone-info')).toBe('not loaded');

    // A TF.js model.json: alone, the missing shards are named; picked with its shards, it loads.
    const modelDir = path.join(weightsDir, 'darknet-tiny');
    const shards = fs.readdirSync(modelDir).filter((f) => f.startsWith('group')).map((f) => path.join(modelDir, f));
    await page.$eval('#status', (e) => (e.className = ''));
    await weights.uploadFile(path.join(modelDir, 'model.json'));
    await page.waitForFunction(() => document.getElementById('status')!.className === 'error');
    expect(await text(page, '#status')).toMatch(/^model\.json needs its weight shards picked with it: missing group\d+-shard1of1, /);
    await page.$eval('#status', (e) => (e.className = ''));
    await weights.uploadFile(path.join(modelDir, 'model.json'), ...shards);
    await page.waitForFunction(() => /tensors/.test(document.getElementById('backbone-info')!.textContent!) || document.getElementById('status')!.className === 'error', { timeout: 60_000 });
    expect(await text(page, '#backbone-info')).toBe(`darknet-tiny from model.json (${shards.length} shards): layers-model, 92 tensors`);
    await page.close();
    expect(own).toEqual([]);

    // No WebGPU: the page says so and offers nothing that would crash.
    const noGpu = await browser.newPage();
    const noGpuErrors: string[] = [];
    watch(noGpu, noGpuErrors);
    await noGpu.evaluateOnNewDocument(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
    await noGpu.goto(url);
    await noGpu.waitForFunction(() => document.getElementById('status')!.className === 'error', { timeout: 30_000 });
    expect(await text(noGpu, '#status')).toMatch(/navigator\.gpu/);
    expect(await noGpu.$eval('#train', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    await noGpu.close();
    expect(noGpuErrors).toEqual([]);
  }, 180_000);
});
