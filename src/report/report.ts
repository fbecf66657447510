// The comparison report as files a person opens (Node): comparison.md and comparison.json (the
// table, every run's per-epoch history, extra sections), loss.svg / accuracy.svg (plot.ts) and
// the same charts as PNG when a renderer is given (the testing entry's headless Chrome) and can run —
// otherwise the report says so and keeps the SVGs — and an index.html showing all of it. Files are
// written through the NodeHost.
import { nodeHost } from '../io/host.ts';
import { type Comparison, comparisonMarkdown } from './comparison.ts';
import { learningCurves } from './plot.ts';

export interface ReportSection {
  title: string;
  markdown: string;
}

export interface ReportOptions {
  title?: string;
  sections?: ReportSection[];
  /** Render PNGs (default true, when a renderer is given; false keeps only the SVGs). */
  png?: boolean;
  /** Turns SVGs into PNG files (Node: `renderSvgs` from the testing entry, headless Chrome). */
  renderPng?: SvgRenderer;
  /** More data for comparison.json. */
  extra?: Record<string, unknown>;
  /** More figures (confusion heat map, image grids): written as <file>.svg (and .png), shown after the curves. */
  figures?: { file: string; title: string; svg: string }[];
}

/** Writes each SVG as a PNG file of its own size; says why not when it cannot. */
export type SvgRenderer = (items: { svg: string; file: string }[]) => Promise<{ rendered: boolean; reason?: string }>;

export interface WrittenReport {
  files: string[];
  png: { rendered: boolean; reason?: string };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A small markdown subset as HTML: tables, bullet lists, paragraphs, **bold** and `code`. */
export function markdownToHtml(md: string): string {
  const inline = (s: string) => esc(s).replace(/\*\*(.+?)\*\*/g, '<b>$1</b>').replace(/`(.+?)`/g, '<code>$1</code>');
  const out: string[] = [];
  const blocks = md.split(/\n\s*\n/);
  for (const block of blocks) {
    const lines = block.split('\n').filter((l) => l.trim());
    if (!lines.length) continue;
    if (lines.every((l) => l.trim().startsWith('|'))) {
      const cells = (l: string) => l.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
      const body = lines.filter((l) => !/^\|[\s:|-]+\|$/.test(l.trim()));
      const [head, ...rows] = body.map(cells);
      out.push(`<table><tr>${head.map((c) => `<th>${inline(c)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`).join('')}</table>`);
    } else if (lines.every((l) => l.startsWith('- '))) out.push(`<ul>${lines.map((l) => `<li>${inline(l.slice(2))}</li>`).join('')}</ul>`);
    else if (lines.every((l) => l.startsWith('    ') || l.startsWith('```'))) out.push(`<pre>${esc(lines.filter((l) => !l.startsWith('```')).map((l) => l.replace(/^ {4}/, '')).join('\n'))}</pre>`);
    else out.push(`<p>${lines.map(inline).join('<br>')}</p>`);
  }
  return out.join('\n');
}

/** Write the report into `dir` (created if needed); returns the files written. */
export async function writeReport(dir: string, c: Comparison, o: ReportOptions = {}): Promise<WrittenReport> {
  const host = nodeHost(`writing the report to ${dir}`);
  const title = o.title ?? 'Model comparison';
  const curves = learningCurves(c.runs.map((r) => ({ name: r.name, history: r.history.epochs, stoppedEarly: !!r.history.stopReason })));
  const files: string[] = [];
  const put = async (name: string, text: string) => {
    const file = host.joinPath(dir, name);
    await host.writeFileAtomic(file, text);
    files.push(file);
  };
  const figures = [{ file: 'loss', title: 'Loss', svg: curves.loss }, { file: 'accuracy', title: 'Accuracy', svg: curves.accuracy }, ...(o.figures ?? [])];
  for (const f of figures) await put(`${f.file}.svg`, f.svg);
  const pngFiles = figures.map((f) => host.joinPath(dir, `${f.file}.png`));
  const png =
    o.png === false ? { rendered: false, reason: 'PNG rendering was turned off' }
    : !o.renderPng ? { rendered: false, reason: 'no PNG renderer was given' }
    : await o.renderPng(figures.map((f, i) => ({ svg: f.svg, file: pngFiles[i] })));
  if (png.rendered) files.push(...pngFiles);
  const pictures = figures.map((f) => `${f.file}.${png.rendered ? 'png' : 'svg'}`);
  const pngNote = png.rendered ? 'Learning curves: loss.png and accuracy.png (also as SVG).' : `Learning curves: loss.svg and accuracy.svg (no PNGs: ${png.reason}; the SVGs open in any browser).`;
  const sections = o.sections ?? [];
  const md = [
    `# ${title}`,
    '',
    comparisonMarkdown(c),
    '',
    pngNote,
    'Training curves are dashed, validation curves solid: a widening gap between them is over-fitting; two high, flat loss curves are under-fitting. Rings mark each run\'s best validation epoch and, where early stopping ended it, the last epoch.',
    '',
    ...(o.figures ?? []).flatMap((f) => [`${f.title}: ${f.file}.${png.rendered ? 'png' : 'svg'}`, '']),
    ...sections.flatMap((s) => [`## ${s.title}`, '', s.markdown, '']),
  ].join('\n');
  await put('comparison.md', md);
  await put('comparison.json', JSON.stringify({ title, ...c, png, sections, ...(o.extra ?? {}) }, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2));
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}pre{background:#f6f6f6;padding:0.6em;overflow-x:auto}</style></head>
<body><h1>${esc(title)}</h1>
${markdownToHtml(comparisonMarkdown(c))}
<p>${esc(pngNote)}</p>
${pictures.map((p) => `<img src="${p}" alt="${p}">`).join('\n')}
${sections.map((s) => `<h2>${esc(s.title)}</h2>\n${markdownToHtml(s.markdown)}`).join('\n')}
<p>Data: <a href="comparison.json">comparison.json</a> · <a href="comparison.md">comparison.md</a></p>
</body></html>
`;
  await put('index.html', html);
  return { files, png };
}
