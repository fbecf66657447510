// Figures for the report as standalone SVG: the confusion matrix as a heat map with the class
// names, and a grid of images with captions (e.g. misclassified validation images).

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** White (0) to dark blue (1). */
function blue(t: number): string {
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${mix(247, 8)},${mix(251, 48)},${mix(255, 107)})`;
}

/**
 * A confusion matrix (rows: true class, columns: predicted) as a heat map: each cell shaded by its
 * share of the row (so classes of different sizes compare), with the count written in it.
 */
export function confusionHeatmapSvg(matrix: number[][], classNames: readonly string[], title = 'Confusion matrix'): string {
  const n = matrix.length;
  const cell = 44;
  const left = 14 + 7 * Math.max(...classNames.map((c) => c.length));
  const top = 56 + 6.2 * Math.max(...classNames.map((c) => c.length));
  const W = left + n * cell + 20;
  const H = top + n * cell + 40;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Math.round(H)}" viewBox="0 0 ${W} ${Math.round(H)}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`];
  for (let j = 0; j < n; j++) {
    const x = left + j * cell + cell / 2;
    out.push(`<text transform="translate(${x + 4},${top - 6}) rotate(-60)" font-size="11">${esc(classNames[j] ?? String(j))}</text>`);
  }
  for (let i = 0; i < n; i++) {
    const total = matrix[i].reduce((a, b) => a + b, 0);
    const y = top + i * cell;
    out.push(`<text x="${left - 6}" y="${y + cell / 2 + 4}" text-anchor="end" font-size="11">${esc(classNames[i] ?? String(i))}</text>`);
    for (let j = 0; j < n; j++) {
      const share = total ? matrix[i][j] / total : 0;
      const x = left + j * cell;
      out.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${blue(share)}" stroke="#ddd"/>`);
      if (matrix[i][j]) out.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" font-size="11" fill="${share > 0.5 ? 'white' : '#222'}">${matrix[i][j]}</text>`);
    }
  }
  out.push(`<text x="${left + (n * cell) / 2}" y="${top + n * cell + 24}" text-anchor="middle" font-size="12">rows: true class · columns: predicted class · shade: share of the row</text>`);
  out.push('</svg>');
  return out.join('\n');
}

export interface GridImage {
  /** Values in [0, 1], CHW with 1 (gray) or 3 (RGB) channels. */
  pixels: Float32Array;
  channels: 1 | 3;
  height: number;
  width: number;
  caption: string[];
}

/** Images side by side, each drawn pixel by pixel (scaled up) with its caption lines beneath. */
export function imageGridSvg(images: readonly GridImage[], title: string, { scale = 3, columns = 4 }: { scale?: number; columns?: number } = {}): string {
  const w = Math.max(1, ...images.map((i) => i.width)) * scale;
  const h = Math.max(1, ...images.map((i) => i.height)) * scale;
  const captionLines = Math.max(1, ...images.map((i) => i.caption.length));
  const cw = Math.max(w, 150) + 16;
  const ch = h + 16 * captionLines + 18;
  const cols = Math.min(columns, Math.max(1, images.length));
  const rows = Math.ceil(images.length / cols);
  const W = cols * cw + 16;
  const H = 40 + rows * ch;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`];
  images.forEach((img, k) => {
    const x0 = 8 + (k % cols) * cw + (cw - img.width * scale) / 2;
    const y0 = 36 + Math.floor(k / cols) * ch;
    const plane = img.height * img.width;
    const px: string[] = [];
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        const at = y * img.width + x;
        const v = (c: number) => Math.round(Math.min(1, Math.max(0, img.pixels[(img.channels === 3 ? c : 0) * plane + at])) * 255);
        px.push(`<rect x="${x * scale}" y="${y * scale}" width="${scale}" height="${scale}" fill="rgb(${v(0)},${v(1)},${v(2)})"/>`);
      }
    }
    out.push(`<g transform="translate(${x0},${y0})" shape-rendering="crispEdges">${px.join('')}</g>`);
    img.caption.forEach((line, i) => out.push(`<text x="${8 + (k % cols) * cw + cw / 2}" y="${y0 + img.height * scale + 16 + 15 * i}" text-anchor="middle" font-size="12">${esc(line)}</text>`));
  });
  out.push('</svg>');
  return out.join('\n');
}
