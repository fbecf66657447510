// The comparison report on disk: markdown + JSON table, SVG and (with a browser) PNG curves, index.html.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { History } from '../../src/train/callbacks.ts';
import { compare } from '../../src/report/compare.ts';
import { markdownToHtml } from '../../src/report/report.ts';
import { renderSvgs, resolveBrowser } from '../../src/testing/browser.ts';
import { quadrants } from './toy.ts';

const history = (accs: number[]): History => ({ epochs: accs.map((a, epoch) => ({ epoch, loss: 2 - a, accuracy: a + 0.05, valLoss: 2.2 - a, valAccuracy: a, lr: 1e-3, seconds: 1 })) });

async function browserAvailable(): Promise<boolean> {
  try {
    await resolveBrowser();
    return true;
  } catch {
    return false;
  }
}

describe('comparison report', () => {
  it('writes comparison.md / .json, loss and accuracy curves (SVG, PNG when Chrome resolves) and an index.html', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-report-'));
    const split = { train: quadrants(12, 1), validation: quadrants(8, 2) };
    const c = await compare(
      [
        { name: 'scratch', run: async () => ({ history: history([0.4, 0.5, 0.55]), parameters: 100, trainableParameters: 100 }) },
        { name: 'transfer', run: async () => ({ history: history([0.7, 0.8, 0.78]), parameters: 100, trainableParameters: 10 }) },
      ],
      split,
      { outDir: dir, title: 'Test comparison', renderPng: renderSvgs, sections: [{ title: 'Zero-shot', markdown: '| task | accuracy |\n|---|---:|\n| ZSL | 90% |' }] },
    );
    const md = fs.readFileSync(path.join(dir, 'comparison.md'), 'utf8');
    expect(md).toMatch(/^# Test comparison\n/);
    expect(md).toContain('| transfer | 100 | 10 | ');
    expect(md).toContain('## Zero-shot');
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'comparison.json'), 'utf8'));
    expect(json.rows.map((r: { bestValAccuracy: number }) => r.bestValAccuracy)).toEqual([0.55, 0.8]);
    expect(json.runs[1].history.epochs).toHaveLength(3);
    for (const f of ['loss.svg', 'accuracy.svg']) expect(fs.readFileSync(path.join(dir, f), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*transfer — validation[\s\S]*<\/svg>$/);
    const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
    expect(html).toContain('<table>');
    expect(html).toContain('<h2>Zero-shot</h2>');
    if (await browserAvailable()) {
      for (const f of ['loss.png', 'accuracy.png']) {
        const png = fs.readFileSync(path.join(dir, f));
        expect([...png.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
        expect(png.readUInt32BE(16)).toBe(640); // IHDR width
      }
      expect(html).toContain('<img src="loss.png"');
      expect(c.files).toContain(path.join(dir, 'loss.png'));
    } else {
      expect(md).toMatch(/no PNGs: no headless Chrome could be started/);
      expect(html).toContain('<img src="loss.svg"');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('markdownToHtml: tables, lists, code and bold', () => {
    const html = markdownToHtml('| a | b |\n|---|---:|\n| **x** | `y` |\n\n- one\n- two\n\nplain <text>');
    expect(html).toBe('<table><tr><th>a</th><th>b</th></tr><tr><td><b>x</b></td><td><code>y</code></td></tr></table>\n<ul><li>one</li><li>two</li></ul>\n<p>plain &lt;text&gt;</p>');
  });
});
