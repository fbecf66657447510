// Report figures and progress: the marks on validation curves, the confusion heat map, the image
// grid, and the one progress-bar style (drawn on a TTY only).
import { describe, expect, it } from 'vitest';
import { confusionHeatmapSvg, imageGridSvg } from '../../src/report/figures.ts';
import { curveMarks, learningCurves } from '../../src/report/plot.ts';
import { barLine, stepProgress } from '../../src/report/progress.ts';

describe('curve marks', () => {
  it('best epoch (highest accuracy / lowest loss, first on ties); the last epoch when stopped early', () => {
    expect(curveMarks([0.5, 0.8, 0.8, 0.7], true, false)).toEqual([{ index: 1, label: 'best' }]);
    expect(curveMarks([0.9, 0.4, 0.6], false, true)).toEqual([{ index: 1, label: 'best' }, { index: 2, label: 'stopped' }]);
    expect(curveMarks([0.9, 0.4], false, true)).toEqual([{ index: 1, label: 'best, stopped' }]);
    expect(curveMarks([undefined, Number.NaN], true, false)).toEqual([]);
    const { accuracy } = learningCurves([{ name: 'a', history: [{ loss: 1, accuracy: 0.2, valAccuracy: 0.3 }, { loss: 0.5, accuracy: 0.6, valAccuracy: 0.5 }], stoppedEarly: true }]);
    expect(accuracy.match(/>best, stopped<\/text>/g)).toHaveLength(1);
  });
});

describe('figures', () => {
  it('confusion heat map: one cell per pair, class names, counts, darker for a larger share of the row', () => {
    const svg = confusionHeatmapSvg([[3, 1], [0, 4]], ['cat', 'dog']);
    expect(svg.match(/<rect x="[\d.]+" y="[\d.]+" width="44" height="44" fill="(rgb\([\d,]+\))"/g)).toHaveLength(4);
    const fills = [...svg.matchAll(/width="44" height="44" fill="rgb\((\d+),(\d+),(\d+)\)"/g)].map((m) => Number(m[1]));
    // Shares 0.75, 0.25, 0, 1: red channel falls as the share grows.
    expect(fills[0]).toBeLessThan(fills[1]);
    expect(fills[3]).toBeLessThan(fills[0]);
    expect(fills[2]).toBe(247);
    for (const t of ['>cat</text>', '>dog</text>', '>3</text>', '>4</text>']) expect(svg).toContain(t);
  });

  it('image grid: every pixel drawn at its value, captions escaped', () => {
    const pixels = Float32Array.from([0, 1, 0.5, 0.25]);
    const svg = imageGridSvg([{ pixels, channels: 1, height: 2, width: 2, caption: ['true: <a>', 'predicted: b'] }], 'grid', { scale: 2 });
    expect(svg).toContain('fill="rgb(0,0,0)"');
    expect(svg).toContain('fill="rgb(255,255,255)"');
    expect(svg).toContain('fill="rgb(128,128,128)"');
    expect(svg).toContain('fill="rgb(64,64,64)"');
    expect(svg).toContain('>true: &lt;a&gt;</text>');
  });
});

describe('progress bars', () => {
  it('one style: label [===>   ] detail; drawn on a TTY, nothing elsewhere', () => {
    expect(barLine('x', 0.5, 'half', 70)).toBe('x [====>     ] half');
    let tty = '';
    const bar = stepProgress('download', { stream: { write: (t: string) => (tty += t), isTTY: true, columns: 70 }, intervalMs: 0 });
    bar.update(1, 4, '1/4');
    bar.update(4, 4, '4/4');
    bar.end();
    expect(tty).toMatch(/^\rdownload \[==>       \]  25% 1\/4 .*\rdownload \[=========>\] 100% 4\/4 .*\r\x1b\[K$/s);
    let pipe = '';
    const quiet = stepProgress('download', { stream: { write: (t: string) => (pipe += t), isTTY: false } });
    quiet.update(1, 2);
    quiet.end('done');
    expect(pipe).toBe('');
  });
});
