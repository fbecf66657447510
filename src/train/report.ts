// The comparison report as files a person opens (Node): comparison.md and comparison.json (the
// table, every run's per-epoch history, extra sections), loss.svg / accuracy.svg (plot.ts) and
// the same charts as PNG, rendered by headless Chrome (scripts/browser.js) when one is found —
// otherwise the report says so and keeps the SVGs — and an index.html showing all of it.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Comparison, comparisonMarkdown } from './compare.ts';
import { learningCurves } from './plot.ts';

export interface ReportSection {
  title: string;
  markdown: string;
}

export interface ReportOptions {
  title?: string;
  sections?: ReportSection[];
  /** Render PNGs (default true; false keeps only the SVGs). */
  png?: boolean;
  /** More data for comparison.json. */
  extra?: Record<string, unknown>;
}

export interface WrittenReport {
  files: string[];
  png: { rendered: boolean; reason?: string };
}

interface BrowserModule {
  launchBrowser(): Promise<{ browser: import('puppeteer').Browser; found: { path: string; source: string } }>;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Screenshot each SVG to a PNG of its own size with headless Chrome; the reason when there is no browser. */
export async function renderSvgs(items: { svg: string; file: string }[]): Promise<{ rendered: boolean; reason?: string }> {
  let launched;
  try {
    const { launchBrowser } = (await import(pathToFileURL(path.join(root, 'scripts/browser.js')).href)) as BrowserModule;
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
  await fs.mkdir(dir, { recursive: true });
  const title = o.title ?? 'Model comparison';
  const curves = learningCurves(c.runs.map((r) => ({ name: r.name, history: r.history.epochs })));
  const files: string[] = [];
  const put = async (name: string, text: string) => {
    const file = path.join(dir, name);
    await fs.writeFile(file, text);
    files.push(file);
  };
  await put('loss.svg', curves.loss);
  await put('accuracy.svg', curves.accuracy);
  const png = o.png === false ? { rendered: false, reason: 'PNG rendering was turned off' } : await renderSvgs([
    { svg: curves.loss, file: path.join(dir, 'loss.png') },
    { svg: curves.accuracy, file: path.join(dir, 'accuracy.png') },
  ]);
  if (png.rendered) files.push(path.join(dir, 'loss.png'), path.join(dir, 'accuracy.png'));
  const pictures = png.rendered ? ['loss.png', 'accuracy.png'] : ['loss.svg', 'accuracy.svg'];
  const pngNote = png.rendered ? 'Learning curves: loss.png and accuracy.png (also as SVG).' : `Learning curves: loss.svg and accuracy.svg (no PNGs: ${png.reason}; the SVGs open in any browser).`;
  const sections = o.sections ?? [];
  const md = [
    `# ${title}`,
    '',
    comparisonMarkdown(c),
    '',
    pngNote,
    'Training curves are dashed, validation curves solid: a widening gap between them is over-fitting; two high, flat loss curves are under-fitting.',
    '',
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
