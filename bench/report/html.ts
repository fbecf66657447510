// The HTML report: one self-contained page (inline CSS and SVG, nothing fetched) with a section per
// run (runner x preset): machine and adapters, geometric-mean ratios, and per workload family a
// chart of median times (log scale, min-max whiskers) and a table with every measured number.
import type { ContenderId } from '../options.ts';
import type { CaseResult, WorkloadResult } from '../suite.ts';
import { type BenchResults, LABEL, RIVALS, describeMachine, fmaPeak, fmtBytes, fmtMs, fmtRatio, fmtSci, geomeanRatios, notes, ratio } from './results.ts';

const COLOR: Record<ContenderId, string> = { graft: '#d9480f', 'tfjs-webgpu': '#1c7ed6', 'tfjs-wasm': '#37b24d', 'tfjs-cpu': '#868e96', 'ort-webgpu': '#7048e8', 'ort-wasm': '#f59f00' };
const ORDER: ContenderId[] = ['graft', ...RIVALS];

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function chart(ws: WorkloadResult[], ids: ContenderId[]): string {
  const ok = (c: CaseResult | undefined): c is Extract<CaseResult, { status: 'ok' }> => c?.status === 'ok';
  const values = ws.flatMap((w) => ids.map((id) => w.cases[id]).filter(ok).flatMap((c) => [c.wall.min, c.wall.max]));
  if (!values.length) return '';
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(Math.min(...values), 1e-3))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values))));
  const [left, width, bar, gap] = [330, 560, 8, 10];
  const rowH = ids.length * bar + gap;
  const height = ws.length * rowH + 40;
  const x = (ms: number) => left + ((Math.log10(ms) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * width;
  const parts: string[] = [];
  for (let d = lo; d <= hi * 1.001; d *= 10) {
    parts.push(`<line x1="${x(d)}" y1="20" x2="${x(d)}" y2="${height - 18}" stroke="#dee2e6"/><text x="${x(d)}" y="${height - 4}" text-anchor="middle">${fmtMs(d)} ms</text>`);
  }
  ws.forEach((w, i) => {
    const y0 = 24 + i * rowH;
    const title = w.title.length > 52 ? w.title.slice(0, 51) + '…' : w.title;
    parts.push(`<text x="${left - 6}" y="${y0 + (ids.length * bar) / 2 + 4}" text-anchor="end"><title>${esc(w.title)}</title>${esc(title)}</text>`);
    ids.forEach((id, k) => {
      const c = w.cases[id];
      const y = y0 + k * bar;
      if (!ok(c)) {
        parts.push(`<text x="${left + 4}" y="${y + bar - 1}" class="na">${esc(LABEL[id])}: ${c?.status ?? '—'}</text>`);
        return;
      }
      const m = x(c.wall.median);
      parts.push(
        `<rect x="${left}" y="${y}" width="${Math.max(1, m - left)}" height="${bar - 1}" fill="${COLOR[id]}"><title>${esc(LABEL[id])}: median ${fmtMs(c.wall.median)} ms (min ${fmtMs(c.wall.min)}, max ${fmtMs(c.wall.max)})</title></rect>`,
        `<line x1="${x(c.wall.min)}" x2="${x(c.wall.max)}" y1="${y + bar / 2}" y2="${y + bar / 2}" stroke="#212529"/>`,
      );
    });
  });
  const legend = ids.map((id, k) => `<rect x="${left + k * 130}" y="2" width="10" height="10" fill="${COLOR[id]}"/><text x="${left + k * 130 + 14}" y="11">${esc(LABEL[id])}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 40}" height="${height}" font-size="11" font-family="sans-serif">${legend}${parts.join('')}</svg>`;
}

function caseCells(w: WorkloadResult, id: ContenderId, foot: Map<string, number>, peak: number | null): string {
  const c = w.cases[id];
  if (!c) return '<td colspan="8">—</td>';
  if (c.status !== 'ok') {
    const why = c.status === 'n/a' ? c.reason : `error: ${c.message}`;
    return `<td colspan="8" class="na">${c.status} [${foot.get(why)}]</td>`;
  }
  const rate = w.flops ? w.flops / (c.wall.median / 1000) / 1e9 : null;
  // % of the FMA peak measured on Graft's adapter (tfjs-webgpu and ort-webgpu share it; wasm and cpu do not).
  const gflops = rate === null ? '—' : `${rate.toFixed(2)}${peak && (id === 'graft' || id === 'tfjs-webgpu' || id === 'ort-webgpu') ? ` (${((100 * rate) / peak).toFixed(0)}% of peak)` : ''}`;
  const cut = c.repsCut ? (c.repsCut.ran === 0 ? ' (first run only)' : ` (${c.repsCut.ran} of ${c.repsCut.asked} runs)`) : '';
  return [
    `<b>${fmtMs(c.wall.median)}</b>${cut}`,
    `${fmtMs(c.wall.q1)}–${fmtMs(c.wall.q3)}`,
    `${fmtMs(c.wall.min)}–${fmtMs(c.wall.max)}`,
    fmtMs(c.firstMs),
    c.gpu ? fmtMs(c.gpu.median) : '—',
    fmtBytes(c.peakBytes),
    gflops,
    id === 'graft' ? '' : fmtRatio(ratio(w, id)),
  ].map((v) => `<td>${v}</td>`).join('');
}

function checkCell(w: WorkloadResult, id: ContenderId): string {
  if (id === 'graft') return `<td class="${w.verdict}">${w.verdict} (tol ${fmtSci(w.tolerance)})</td>`;
  const c = w.checks[id];
  if (!c) return '<td>—</td>';
  return `<td class="${c.ok ? 'pass' : 'fail'}">${fmtSci(c.maxAbs)} / ${fmtSci(c.maxRel)}${c.problem ? ` ${esc(c.problem)}` : ''}</td>`;
}

function table(ws: WorkloadResult[], ids: ContenderId[], foot: Map<string, number>, peak: number | null): string {
  const head = '<tr><th>workload</th><th>contender</th><th>median ms</th><th>IQR</th><th>min–max</th><th>first run (compile)</th><th>GPU span</th><th>peak memory</th><th>GFLOP/s</th><th>rival / Graft</th><th>vs Graft: max abs / rel</th></tr>';
  const rows = ws.flatMap((w) =>
    ids.map((id, k) => `<tr${k === 0 ? ' class="first"' : ''}>${k === 0 ? `<td rowspan="${ids.length}">${esc(w.title)}<br><small>${esc(w.id)} · outputs: ${esc(w.outputs)}</small></td>` : ''}<td><span class="dot" style="background:${COLOR[id]}"></span>${esc(LABEL[id])}</td>${caseCells(w, id, foot, peak)}${checkCell(w, id)}</tr>`),
  );
  return `<table>${head}${rows.join('')}</table>`;
}

function section(r: BenchResults): string {
  const o = r.info.options;
  const ids = ORDER.filter((id) => o.contenders.includes(id));
  const foot = notes(r);
  const families = [...new Set(r.workloads.map((w) => w.family))];
  const geo = (ws: WorkloadResult[]) => {
    const g = geomeanRatios(ws);
    return RIVALS.filter((id) => ids.includes(id)).map((id) => `<td>${g[id] ? `${fmtRatio(g[id]!.value)} <small>(${g[id]!.n})</small>` : '—'}</td>`).join('');
  };
  const summary = `<table class="summary"><tr><th>family</th>${RIVALS.filter((id) => ids.includes(id)).map((id) => `<th>${LABEL[id]} / Graft</th>`).join('')}</tr>${[...families, 'all']
    .map((f) => `<tr><td>${f}</td>${geo(f === 'all' ? r.workloads : r.workloads.filter((w) => w.family === f))}</tr>`)
    .join('')}</table>`;
  const contenders = r.info.contenders.map((c) => `<li><b>${esc(LABEL[c.id])}</b>: ${esc(Object.entries(c.info).map(([k, v]) => `${k} ${v}`).join('; '))}</li>`).join('');
  const unavailable = r.info.unavailable.map((u) => `<li><b>${esc(LABEL[u.id])}</b> unavailable: ${esc(u.reason)}</li>`).join('');
  const failed = r.workloads.filter((w) => w.verdict === 'fail');
  return `<section>
<h2>${esc(r.info.runner === 'chrome' ? 'Headless Chrome' : 'Node (Dawn)')} · ${esc(o.preset)} preset</h2>
<p>${esc(r.info.startedAt)} · ${(r.totalMs / 1000).toFixed(0)} s · ${o.reps} timed runs after ${o.warmup} warm-up(s), case budget ${o.caseBudgetMs / 1000} s · kernel scale ${o.scale} (at most ${o.maxSpatial}), conv batch ${o.batch} · models ${esc(Object.entries(o.models ?? {}).map(([a, m]) => `${a} ${m.image}x${m.image} batch ${m.batches.join('/')}`).join(', '))}, VGG classifier ${o.vggClassifier ? 'on' : 'off'}, training and batchnorm batch ${o.trainBatch}, training step ${o.trainImage ?? o.models?.resnet18?.image}x${o.trainImage ?? o.models?.resnet18?.image}</p>
<p>${esc(describeMachine(r))}<br><small>${esc(r.info.userAgent)}</small></p>
<ul>${contenders}${unavailable}</ul>
${r.fatal ? `<p class="fail">The run did not finish: ${esc(r.fatal)}</p>` : ''}
${failed.length ? `<p class="fail">Out of tolerance or failing in Graft: ${failed.map((w) => esc(w.id)).join(', ')}</p>` : '<p class="pass">Every checked workload is within tolerance.</p>'}
<h3>Geometric mean of rival / Graft (median wall time; above 1: Graft is faster)</h3>
${summary}
${families
  .map((f) => {
    const ws = r.workloads.filter((w) => w.family === f);
    return `<h3>${esc(f)}</h3>${chart(ws, ids)}${table(ws, ids, foot, fmaPeak(r))}`;
  })
  .join('\n')}
${foot.size ? `<h3>Notes</h3><ol>${[...foot.keys()].map((why) => `<li>${esc(why)}</li>`).join('')}</ol>` : ''}
</section>`;
}

export function htmlReport(runs: BenchResults[]): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Graft vs TensorFlow.js and ONNX Runtime Web benchmarks</title>
<style>
body { font: 13px/1.45 system-ui, sans-serif; margin: 24px; color: #212529; max-width: 1500px; }
table { border-collapse: collapse; margin: 8px 0 20px; }
td, th { border: 1px solid #dee2e6; padding: 2px 6px; text-align: right; vertical-align: top; }
td:first-child, th:first-child { text-align: left; }
tr.first td { border-top: 2px solid #adb5bd; }
.na { color: #868e96; text-align: left; }
.pass { color: #2b8a3e; } .fail { color: #c92a2a; font-weight: bold; }
.dot { display: inline-block; width: 9px; height: 9px; margin-right: 4px; }
section { border-top: 3px solid #343a40; margin-top: 28px; }
svg text.na { fill: #868e96; }
</style></head><body>
<h1>Graft vs TensorFlow.js and ONNX Runtime Web</h1>
<p>Every contender goes through the same harness: a first run (shader compilation and first-use
allocation included, reported apart), warm-up runs (the first also measures the memory high-water
mark: Graft's allocator, live + pooled, after trimming its pool; tfjs's <code>tf.profile</code>
peak), then timed runs whose wall time includes reading every output back to the CPU. The GPU span
comes from timestamp queries bracketing each timed run on the contender's device. Inputs and
weights are the same seeded arrays for every contender (tfjs gets them in NHWC / HWIO; ONNX Runtime
Web, on the model inference rows only, an ONNX file torch exported from that state dict; no memory
high-water mark for it); outputs are compared in NCHW. On a CPU-only machine (SwiftShader) shared with other work the times are
noisy: compare ratios, and rerun.</p>
${runs.map(section).join('\n')}
</body></html>
`;
}
