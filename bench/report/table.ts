// The printed table (and its Markdown twin for the README): median wall time per contender, the
// ratio rival / Graft per rival (tfjs backends, ORT providers), and the correctness check, with n/a reasons as footnotes.
import type { ContenderId } from '../options.ts';
import type { WorkloadResult } from '../suite.ts';
import { type BenchResults, LABEL, RIVALS, describeMachine, fmaPeak, fmtMs, fmtRatio, fmtSci, geomeanRatios, graftGflops, median, notes, ratio, rivalsOf } from './results.ts';

interface Row {
  cells: string[];
}

function cell(w: WorkloadResult, id: ContenderId, foot: Map<string, number>): string {
  const c = w.cases[id];
  if (!c) return '—';
  if (c.status === 'ok') return fmtMs(median(c)) + (c.repsCut ? (c.repsCut.ran === 0 ? '**' : '*') : '');
  const why = c.status === 'n/a' ? c.reason : `error: ${c.message}`;
  return `${c.status === 'n/a' ? 'n/a' : 'ERR'} [${foot.get(why)}]`;
}

function check(w: WorkloadResult): string {
  const cs = Object.values(w.checks);
  if (!cs.length) return w.verdict === 'fail' ? 'FAIL' : 'unchecked';
  const worst = Math.max(...cs.map((c) => c!.maxRel));
  return `${fmtSci(worst)} ${w.verdict === 'pass' ? 'ok' : 'FAIL'}`;
}

function rows(r: BenchResults, foot: Map<string, number>): { head: string[]; body: Row[] } {
  const tfjs = rivalsOf(r);
  const peak = fmaPeak(r);
  const head = ['workload', 'Graft ms', 'GFLOP/s', ...(peak ? ['% of peak'] : []), ...tfjs.flatMap((id) => [`${LABEL[id]} ms`, 'x']), 'max rel diff'];
  const body = r.workloads.map((w) => {
    const g = graftGflops(w);
    const rate = [g === null ? '—' : g.toFixed(2), ...(peak ? [g === null ? '—' : `${((100 * g) / peak).toFixed(0)}%`] : [])];
    return { cells: [w.title, cell(w, 'graft', foot), ...rate, ...tfjs.flatMap((id) => [cell(w, id, foot), fmtRatio(ratio(w, id))]), check(w)] };
  });
  return { head, body };
}

function summaryLines(r: BenchResults): string[] {
  const lines: string[] = [];
  const families = [...new Set(r.workloads.map((w) => w.family))];
  for (const fam of [...families, 'all']) {
    const g = geomeanRatios(fam === 'all' ? r.workloads : r.workloads.filter((w) => w.family === fam));
    const parts = rivalsOf(r).filter((id) => g[id]).map((id) => `${LABEL[id]} ${fmtRatio(g[id]!.value)} (${g[id]!.n})`);
    if (parts.length) lines.push(`  ${fam.padEnd(9)} ${parts.join('   ')}`);
  }
  return lines;
}

/** The plain-text table printed at the end of a run. */
export function textTable(r: BenchResults): string {
  const foot = notes(r);
  const { head, body } = rows(r, foot);
  const all = [head, ...body.map((b) => b.cells)];
  const widths = head.map((_, i) => Math.min(i === 0 ? 62 : 40, Math.max(...all.map((row) => row[i].length))));
  const fit = (s: string, i: number) => (s.length > widths[i] ? s.slice(0, widths[i] - 1) + '…' : i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]));
  const line = (row: string[]) => row.map(fit).join('  ');
  const out = [
    `Graft vs TensorFlow.js${rivalsOf(r).some((id) => id.startsWith('ort-')) ? ' and ONNX Runtime Web' : ''} — ${r.info.runner}, ${r.info.options.preset} preset, ${r.info.options.reps} timed runs after ${r.info.options.warmup} warm-up`,
    describeMachine(r),
    '',
    line(head),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...body.map((b) => line(b.cells)),
    '',
    'x = rival (tfjs, ORT) median / Graft median (above 1: Graft is faster). Medians of wall time, readback included.',
    'GFLOP/s = the workload\'s FLOPs (from its shapes) / Graft\'s median; % of peak = that / the measured FMA peak.',
    '* fewer timed runs than asked, ** the first run only (it exceeded the case budget of ' + r.info.options.caseBudgetMs / 1000 + ' s).',
    'max rel diff = max |Graft - rival| / max |rival| over the outputs, worst rival; ok = within the workload\'s tolerance.',
    'Geometric mean of x per family (number of workloads):',
    ...summaryLines(r),
  ];
  if (foot.size) out.push('', ...[...foot].map(([why, n]) => `[${n}] ${why}`));
  return out.join('\n');
}

/** The same table in Markdown (for the README). */
export function markdownTable(r: BenchResults): string {
  const foot = notes(r);
  const { head, body } = rows(r, foot);
  const esc = (s: string) => s.replace(/[|*]/g, (c) => '\\' + c);
  const out = [
    `| ${head.map(esc).join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...body.map((b) => `| ${b.cells.map(esc).join(' | ')} |`),
  ];
  out.push('', 'Geometric mean of x (rival / Graft) per family, number of workloads in brackets:', '', '```', ...summaryLines(r), '```');
  if (foot.size) out.push('', ...[...foot].map(([why, n]) => `[${n}] ${esc(why)}  `));
  return out.join('\n');
}

/**
 * One Markdown table for several runs of the same preset (Node and Chrome side by side): Graft's
 * median and the ratio per tfjs backend for each run, and the worst check over all of them.
 */
export function combinedMarkdown(runs: BenchResults[]): string {
  const esc = (s: string) => s.replace(/[|*]/g, (c) => '\\' + c);
  const where = (r: BenchResults) => (r.info.runner === 'chrome' ? 'Chrome' : 'Node');
  const rivals = RIVALS.filter((id) => runs.some((r) => r.info.options.contenders.includes(id)));
  const short = (id: ContenderId) => (id.startsWith('tfjs-') ? LABEL[id].replace('tfjs ', '') : LABEL[id]);
  const head = ['workload', ...runs.flatMap((r) => [`${where(r)}: Graft ms`, 'GFLOP/s (% of peak)', ...rivals.map((id) => `${short(id)} x`)]), 'max rel diff'];
  const rate = (r: BenchResults, w: BenchResults['workloads'][number]) => {
    const g = graftGflops(w);
    const peak = fmaPeak(r);
    return g === null ? '—' : `${g.toFixed(2)}${peak ? ` (${((100 * g) / peak).toFixed(0)}%)` : ''}`;
  };
  const ids = [...new Set(runs.flatMap((r) => r.workloads.map((w) => w.id)))];
  const body = ids.map((id) => {
    const ws = runs.map((r) => r.workloads.find((w) => w.id === id));
    const title = ws.find(Boolean)!.title;
    const cells = ws.flatMap((w, k) => (w ? [fmtMs(median(w.cases.graft)), rate(runs[k], w), ...rivals.map((t) => (w.cases[t]?.status === 'n/a' ? 'n/a' : fmtRatio(ratio(w, t))))] : ['—', '—', ...rivals.map(() => '—')]));
    const checks = ws.flatMap((w) => (w ? Object.values(w.checks) : []));
    const worst = checks.length ? Math.max(...checks.map((c) => c!.maxRel)) : undefined;
    const verdict = ws.some((w) => w?.verdict === 'fail') ? 'FAIL' : checks.length ? 'ok' : 'unchecked';
    return [title, ...cells, `${fmtSci(worst)} ${verdict}`];
  });
  const lines = [`| ${head.map(esc).join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...body.map((b) => `| ${b.map(esc).join(' | ')} |`)];
  lines.push('', 'Geometric mean of x per family (workloads):', '', '```');
  for (const r of runs) lines.push(`${where(r)}:`, ...summaryLines(r));
  lines.push('```');
  return lines.join('\n');
}
