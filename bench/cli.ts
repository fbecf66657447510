// `npm run bench -- [options]`: run the suite in headless Chrome (default) or in Node (--node),
// then save the JSON results, rebuild the HTML report and print the table. Exit code 1 when a
// workload's outputs disagree with tfjs beyond its tolerance, or Graft failed on one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareOnnx } from './onnx.ts';
import { type BenchOptions, USAGE, parseArgs } from './options.ts';
import { htmlReport } from './report/html.ts';
import { type BenchResults, type Machine, failures } from './report/results.ts';
import { combinedMarkdown, markdownTable, textTable } from './report/table.ts';
import { runChrome } from './runners/chrome.ts';
import { runNode } from './runners/node.ts';
import type { BenchEvent, WorkloadResult } from './suite.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadStart: os.loadavg()[0],
    loadEnd: 0,
  };
}

/** Collects a runner's events into results, echoing progress. */
function collector(opts: BenchOptions) {
  const results: BenchResults = {
    info: { runner: opts.runner, options: opts, contenders: [], unavailable: [], startedAt: new Date().toISOString(), userAgent: '' },
    machine: machine(),
    workloads: [] as WorkloadResult[],
    totalMs: 0,
  };
  let done = false;
  const onEvent = (e: BenchEvent) => {
    if (e.type === 'start') {
      results.info = e.info;
      console.log(`${e.workloads.length} workloads × ${e.info.contenders.length} contenders (${e.info.contenders.map((c) => c.id).join(', ')})`);
      for (const u of e.info.unavailable) console.log(`  ${u.id} unavailable: ${u.reason}`);
    } else if (e.type === 'log') console.log(e.message);
    else if (e.type === 'result') {
      results.workloads.push(e.result);
      const bad = e.result.verdict === 'fail' ? '  <-- CHECK FAILED' : '';
      console.log(`[${results.workloads.length}] ${e.result.title}: ${e.result.verdict}${bad}`);
    } else if (e.type === 'done') {
      results.totalMs = e.ms;
      done = true;
    }
  };
  return { results, onEvent, isDone: () => done };
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  let opts: BenchOptions;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  console.log(`bench: ${opts.runner}, ${opts.preset} preset (reps ${opts.reps}, warm-up ${opts.warmup}, scale ${opts.scale})`);
  const { results, onEvent, isDone } = collector(opts);
  try {
    // ONNX files for the ORT contenders (exported once, then cached): before the runner starts.
    opts.onnx = await prepareOnnx(opts, repoRoot, (m) => console.log(m));
    if (opts.runner === 'node') await runNode(opts, onEvent);
    else results.machine.browser = await runChrome(opts, onEvent);
  } catch (e) {
    results.fatal = (e as Error).message;
  }
  if (!isDone() && !results.fatal) results.fatal = 'the runner stopped before the end of the suite';
  results.machine.loadEnd = os.loadavg()[0];

  const outDir = path.resolve(repoRoot, opts.outDir);
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = results.info.startedAt.replace(/[:.]/g, '-');
  const base = `${opts.runner}-${opts.preset}`;
  const json = JSON.stringify(results, null, 1);
  fs.writeFileSync(path.join(outDir, `${stamp}-${base}.json`), json);
  fs.writeFileSync(path.join(outDir, `latest-${base}.json`), json);
  fs.writeFileSync(path.join(outDir, `latest-${base}.md`), markdownTable(results) + '\n');
  // The report shows the latest run of every runner and preset found in the folder.
  const latest = fs.readdirSync(outDir).filter((f) => /^latest-.*\.json$/.test(f)).sort();
  const runs = latest.map((f) => JSON.parse(fs.readFileSync(path.join(outDir, f), 'utf8')) as BenchResults);
  const report = path.join(outDir, 'report.html');
  fs.writeFileSync(report, htmlReport(runs));
  // Node and Chrome side by side (the README's table), once both runners have a latest run of this preset.
  const samePreset = runs.filter((r) => r.info.options.preset === opts.preset);
  if (samePreset.length > 1) fs.writeFileSync(path.join(outDir, `latest-${opts.preset}.md`), combinedMarkdown(samePreset) + '\n');

  console.log('\n' + textTable(results));
  console.log(`\nresults: ${path.relative(repoRoot, path.join(outDir, `latest-${base}.json`))}; report: ${path.relative(repoRoot, report)}; ${(results.totalMs / 1000).toFixed(0)} s`);
  const failed = failures(results);
  if (results.fatal) console.log(`bench FAILED: ${results.fatal}`);
  if (failed.length) console.log(`bench FAILED: ${failed.length} workload(s) out of tolerance or failing in Graft: ${failed.map((w) => w.id).join(', ')}`);
  return results.fatal || failed.length ? 1 : 0;
}
