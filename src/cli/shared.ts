// What the commands share: where weights come from (--weights, the GRAFT_WEIGHTS_DIR folder, or
// darknet-tiny's public URL, downloaded once and cached), loading a backbone, number flags, the
// command's output streams and progress, and errors as one line.
import fs from 'node:fs';
import path from 'node:path';
import { GraftError } from '../core/index.ts';
import type { Module } from '../graph/module.ts';
import { type GpuPreprocessing, fromModelPreprocessing } from '../data/augment.ts';
import type { ImageClassifier } from '../models/index.ts';
import { type StepProgress, progressBar, stepProgress } from '../report/progress.ts';
import type { ProgressCallback } from '../core/index.ts';
import type { Callback } from '../train/callbacks.ts';
import { loadPretrained } from '../weights/pretrained.ts';

/** Where ml5.js publishes the same TF.js darknet-tiny (used when no local folder is given). */
export const DARKNET_TINY_URL = 'https://cdn.jsdelivr.net/gh/ml5js/ml5-data-and-models@master/models/darknetclassifier/darknettiny/model.json';

export const WEIGHTS_HOWTO =
  "pass the darknet-tiny weights with --weights <folder holding model.json> (in this repository's environment: --weights ../shared/pretrained/darknet-tiny), " +
  'or set GRAFT_WEIGHTS_DIR to a folder that holds darknet-tiny/ (GRAFT_WEIGHTS_DIR=../shared/pretrained npm start)';

export interface WeightsChoice {
  /** A local weight file or model.json folder, or a URL. */
  source: string;
  how: 'flag' | 'env' | 'url';
}

/** A file, or a folder holding model.json or <arch>/model.json. */
function localWeights(given: string, arch: string, what: string): string {
  if (!fs.existsSync(given)) throw new GraftError(`${what}${given}: no such file or folder`);
  if (!fs.statSync(given).isDirectory()) return given;
  for (const dir of [given, path.join(given, arch)]) if (fs.existsSync(path.join(dir, 'model.json'))) return dir;
  throw new GraftError(`${what}${given}: neither ${path.join(given, 'model.json')} nor ${path.join(given, arch, 'model.json')} exists`);
}

/** --weights, else $GRAFT_WEIGHTS_DIR (or its <arch>/), else for darknet-tiny and not offline the public URL ($GRAFT_WEIGHTS_URL overrides it). */
export function resolveWeights(flag: string | undefined, arch: string, { offline = false, env = process.env }: { offline?: boolean; env?: NodeJS.ProcessEnv } = {}): WeightsChoice {
  if (flag) return { source: localWeights(flag, arch, '--weights '), how: 'flag' };
  if (env.GRAFT_WEIGHTS_DIR) return { source: localWeights(env.GRAFT_WEIGHTS_DIR, arch, 'GRAFT_WEIGHTS_DIR='), how: 'env' };
  if (arch !== 'darknet-tiny') throw new GraftError(`no weights for ${arch}: pass --weights <file or folder>, or set GRAFT_WEIGHTS_DIR to a folder that holds ${arch}/`);
  if (offline || env.GRAFT_OFFLINE === '1') throw new GraftError(`no darknet-tiny weights and offline (${DARKNET_TINY_URL} not tried): ${WEIGHTS_HOWTO}`);
  return { source: env.GRAFT_WEIGHTS_URL ?? DARKNET_TINY_URL, how: 'url' };
}

/** An error as one line (GraftError messages may span lines); GRAFT_DEBUG=1 gives the stack instead. */
export function oneLine(e: unknown): string {
  const err = e as Error;
  if (process.env.GRAFT_DEBUG === '1' && err?.stack) return err.stack;
  return String(err?.message ?? e).replace(/^graft: /, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}

/**
 * Load pre-trained weights into a network built without its classifier (includeTop: false): every
 * parameter and buffer must load (the file's classifier is left out). A failed download says how
 * to pass the weights instead.
 */
export async function loadBackbone(net: Module, choice: WeightsChoice, showProgress = true): Promise<number> {
  let report;
  try {
    report = await loadPretrained(net, choice.source, { strict: false, onProgress: progressPrinter(showProgress) });
  } catch (e) {
    if (choice.how !== 'url') throw e;
    throw new GraftError(`could not download ${choice.source} (${oneLine(e)}): ${WEIGHTS_HOWTO}`);
  }
  const problems = [...report.missing.map((n) => `missing ${n}`), ...report.mismatched];
  if (problems.length) throw new GraftError(`the weights in ${choice.source} do not fit the backbone: ${problems.slice(0, 4).join('; ')}${problems.length > 4 ? `; ... (${problems.length} in all)` : ''}`);
  return report.loaded;
}

/** A model's own preprocessing at another input size (datasets give values in [0, 1]; gray is read for every channel). */
export function preprocessingAt(net: ImageClassifier, size: number): GpuPreprocessing {
  return { ...fromModelPreprocessing(net.preprocessing), size: [size, size] };
}

/** Where partial and hybrid cut by default: the last stage before the head (darknet features.14, ResNet layer4, VGG the last conv block). */
export function defaultCut(net: ImageClassifier): string {
  const inside = net.cutPoints.filter((c) => c.includes('.') || /^layer\d$/.test(c));
  return inside[inside.length - 1] ?? net.cutPoints[0];
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

/** Per-epoch lines to the command's output (with a live bar when that is a terminal and not quiet). */
export function progress(io: Io, quiet = false): Callback {
  const tty = !quiet && io.out === processIo.out && !!process.stdout.isTTY;
  return progressBar({ stream: { write: (t: string) => io.out(t), isTTY: tty, columns: process.stdout.columns } });
}

/** A long step's bar on stderr (the same style as training's), only on a terminal and not when quiet. */
export function stepBar(label: string, quiet = false): StepProgress {
  return stepProgress(label, { stream: quiet || !process.stderr.isTTY ? null : process.stderr });
}

/** Download / read progress as the same bar on stderr; undefined (nothing shown) when quiet or not a terminal. */
export function progressPrinter(enabled = true): ProgressCallback | undefined {
  if (!enabled || !process.stderr.isTTY) return undefined;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  let bar: StepProgress | null = null;
  return (fraction, info) => {
    bar ??= stepBar(info.fromCache ? 'reading (cache)' : info.source.startsWith('http') ? 'downloading' : 'reading');
    bar.update(info.loaded, info.total ?? 0, info.total ? `${mb(info.loaded)}/${mb(info.total)} MB` : `${mb(info.loaded)} MB`);
    if (fraction >= 1) bar.end();
  };
}
