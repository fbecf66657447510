// Learning-curve charts as standalone SVG (no dependencies; opens in any browser or image viewer).
// One chart per metric: each run gets a colour; training is dashed, validation solid, so a widening
// gap (over-fitting) or two high, flat curves (under-fitting) show at a glance.

export interface Series {
  /** Legend label, e.g. 'transfer — train'. */
  label: string;
  /** y values per epoch (epoch 1 first); NaN/undefined leave a gap. */
  values: (number | undefined)[];
  color: string;
  dashed?: boolean;
  /** Epochs to mark (0-based index into values): a ring and a short label, e.g. 'best', 'stopped'. */
  marks?: { index: number; label: string }[];
}

export interface ChartOptions {
  title: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Fix the y range (e.g. [0, 1] for accuracy); derived from the data otherwise. */
  yRange?: [number, number];
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Round "nice" tick step for a range (1, 2 or 5 times a power of ten). */
function niceStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

export function lineChartSvg(series: Series[], opts: ChartOptions): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 400;
  const m = { left: 64, right: 16, top: 40, bottom: 48 + 18 * Math.ceil(series.length / 2) };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const epochs = Math.max(1, ...series.map((s) => s.values.length));
  const finite = series.flatMap((s) => s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
  let [lo, hi] = opts.yRange ?? [Math.min(...finite, Infinity), Math.max(...finite, -Infinity)];
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  if (!opts.yRange) {
    const pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  const x = (e: number) => m.left + (epochs === 1 ? pw / 2 : ((e - 1) / (epochs - 1)) * pw);
  const y = (v: number) => m.top + ph - ((v - lo) / (hi - lo)) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(opts.title)}</text>`);
  // y grid and ticks
  const yStep = niceStep(hi - lo, 6);
  for (let v = Math.ceil(lo / yStep) * yStep; v <= hi + 1e-12; v += yStep) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${+v.toPrecision(4)}</text>`);
  }
  // x ticks (epochs)
  const xStep = Math.max(1, Math.round(niceStep(epochs - 1 || 1, 10)));
  for (let e = 1; e <= epochs; e += xStep) {
    out.push(`<text x="${x(e).toFixed(1)}" y="${m.top + ph + 16}" text-anchor="middle">${e}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${m.top + ph + 34}" text-anchor="middle">epoch</text>`);
  out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  // lines
  for (const s of series) {
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === undefined || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i + 1).toFixed(1)} ${y(v).toFixed(1)} `;
      pen = true;
    });
    out.push(`<path d="${d.trim()}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    s.values.forEach((v, i) => {
      if (v !== undefined && Number.isFinite(v)) out.push(`<circle cx="${x(i + 1).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    });
    for (const mark of s.marks ?? []) {
      const v = s.values[mark.index];
      if (v === undefined || !Number.isFinite(v)) continue;
      const [cx, cy] = [x(mark.index + 1).toFixed(1), y(v).toFixed(1)];
      out.push(`<circle cx="${cx}" cy="${cy}" r="6" fill="none" stroke="${s.color}" stroke-width="2"/>`);
      out.push(`<text x="${cx}" y="${(Number(cy) - 10).toFixed(1)}" text-anchor="middle" font-size="11" fill="${s.color}">${esc(mark.label)}</text>`);
    }
  }
  // legend, two columns under the plot
  series.forEach((s, i) => {
    const lx = m.left + (i % 2) * (pw / 2);
    const ly = m.top + ph + 48 + 18 * Math.floor(i / 2);
    out.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 34}" y="${ly}" dominant-baseline="middle">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Per-epoch records as fit() reports them (only the fields the charts use). */
export interface EpochRecord {
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
}

/** The marks on a validation curve: the best epoch (highest accuracy / lowest loss) and, when training stopped early, the last. */
export function curveMarks(values: (number | undefined)[], higherIsBetter: boolean, stoppedEarly: boolean): { index: number; label: string }[] {
  let best = -1;
  values.forEach((v, i) => {
    if (v === undefined || !Number.isFinite(v)) return;
    if (best < 0 || (higherIsBetter ? v > values[best]! : v < values[best]!)) best = i;
  });
  const marks = best >= 0 ? [{ index: best, label: 'best' }] : [];
  const last = values.length - 1;
  if (stoppedEarly && last >= 0) marks.push({ index: last, label: last === best ? 'best, stopped' : 'stopped' });
  if (stoppedEarly && last === best) marks.shift();
  return marks;
}

/**
 * Loss and accuracy charts for several runs: train dashed, validation solid, one colour per run;
 * each validation curve marks its best epoch and, for a run stopped early, where it stopped.
 */
export function learningCurves(runs: { name: string; history: EpochRecord[]; stoppedEarly?: boolean }[]): { loss: string; accuracy: string } {
  const seriesFor = (key: 'loss' | 'accuracy', valKey: 'valLoss' | 'valAccuracy') =>
    runs.flatMap((r, i) => {
      const color = PALETTE[i % PALETTE.length];
      const s: Series[] = [{ label: `${r.name} — train`, values: r.history.map((h) => h[key]), color, dashed: true }];
      if (r.history.some((h) => h[valKey] !== undefined)) {
        const values = r.history.map((h) => h[valKey]);
        s.push({ label: `${r.name} — validation`, values, color, marks: curveMarks(values, valKey === 'valAccuracy', !!r.stoppedEarly) });
      }
      return s;
    });
  return {
    loss: lineChartSvg(seriesFor('loss', 'valLoss'), { title: 'Loss (train dashed, validation solid; rings: best / stopped)', yLabel: 'cross-entropy loss' }),
    accuracy: lineChartSvg(seriesFor('accuracy', 'valAccuracy'), { title: 'Accuracy (train dashed, validation solid; rings: best / stopped)', yLabel: 'accuracy', yRange: [0, 1] }),
  };
}
