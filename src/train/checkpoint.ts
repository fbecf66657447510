// Training checkpoints: one safetensors file with the model's state dict under its own names, the
// optimizer's state under `optimizer/<parameter>/<buffer>`, and in __metadata__ `graft.checkpoint`
// (JSON: epochs done, history, seed, optimizer step counts, Dropout seeds and call counts). Data
// order and augmentation are functions of (seed, epoch, step), so with these a resumed run repeats
// an uninterrupted one exactly.
//
// Loading checks everything first (architecture, optimizer kind and shapes) and changes nothing
// when a check fails.
import type { Module } from '../graph/module.ts';
import { GraftError } from '../core/index.ts';
import { Dropout } from '../models/layers.ts';
import { type HostTensor, type LoadReport, describeProblems, loadStateDict, readStateDict } from '../weights/state-dict.ts';
import { encodeSafetensors, parseSafetensors, readSafetensors } from '../weights/safetensors.ts';
import { nodeHost } from '../io/host.ts';
import type { EpochLog } from '../report/history.ts';
import type { Optimizer, OptimizerState } from './optim.ts';

export const CHECKPOINT_KEY = 'graft.checkpoint';
const OPTIMIZER_PREFIX = 'optimizer/';

export interface TrainingCheckpoint {
  /** Epochs completed: a resumed fit starts at this epoch index. */
  epoch: number;
  history: EpochLog[];
  seed: number;
  /** Where it was read from (for messages). */
  source: string;
}

interface CheckpointMeta {
  version: 1;
  epoch: number;
  seed: number;
  history: EpochLog[];
  optimizer: { kind: string; lrFactor: number; steps: [string, number][] } | null;
  dropout: [string, { seed: number; calls: number }][];
}

/** Where a checkpoint goes: a path (Node, written atomically) or a function taking the bytes. */
export type CheckpointTarget = string | ((bytes: Uint8Array) => void | Promise<void>);

/** The bytes of a checkpoint of the model (and optimizer) after `epoch` completed epochs. */
export async function checkpointBytes(model: Module, optimizer: Optimizer | null, info: { epoch: number; history: EpochLog[]; seed: number }): Promise<Uint8Array> {
  const tensors = await readStateDict(model);
  let opt: CheckpointMeta['optimizer'] = null;
  if (optimizer) {
    const state = await optimizer.stateDict();
    opt = { kind: state.kind, lrFactor: state.lrFactor, steps: state.params.map((p) => [p.name, p.step]) };
    for (const p of state.params) for (const [k, t] of Object.entries(p.buffers)) tensors.set(`${OPTIMIZER_PREFIX}${p.name}/${k}`, t);
  }
  const dropout: CheckpointMeta['dropout'] = model
    .namedModules()
    .filter(([, m]) => m instanceof Dropout)
    .map(([name, m]) => [name, { seed: (m as Dropout).seed, calls: (m as Dropout).calls }]);
  const meta: CheckpointMeta = { version: 1, epoch: info.epoch, seed: info.seed, history: info.history, optimizer: opt, dropout };
  return encodeSafetensors(tensors, { format: 'pt', [CHECKPOINT_KEY]: JSON.stringify(meta) });
}

/** Write a checkpoint; a path is written atomically (temp file + rename), so a crash never leaves half a file. */
export async function saveCheckpoint(target: CheckpointTarget, model: Module, optimizer: Optimizer | null, info: { epoch: number; history: EpochLog[]; seed: number }): Promise<void> {
  const bytes = await checkpointBytes(model, optimizer, info);
  if (typeof target === 'function') await target(bytes);
  else await nodeHost(`writing ${target}`).writeFileAtomic(target, bytes);
}

/** Names and shapes of the model's state dict against a checkpoint's: what does not fit. */
export function architectureReport(model: Module, shapes: Map<string, readonly number[]>): LoadReport {
  const report: LoadReport = { missing: [], unexpected: [], mismatched: [], loaded: 0 };
  const own = model.stateDict();
  const n = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  for (const [name, t] of own) {
    const s = shapes.get(name);
    if (!s) report.missing.push(name);
    else if (s.join() !== t.shape.join() && !(n(s) === 1 && t.size === 1)) report.mismatched.push(`${name}: expected [${t.shape.join(', ')}], got [${s.join(', ')}]`);
  }
  for (const name of shapes.keys()) if (!own.has(name)) report.unexpected.push(name);
  return report;
}

/** The model tensors' shapes of a checkpoint (optimizer entries left out). */
export function modelShapes(entries: Iterable<[string, { shape: readonly number[] }]>): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>();
  for (const [name, e] of entries) if (!name.startsWith(OPTIMIZER_PREFIX)) out.set(name, e.shape);
  return out;
}

export function parseMeta(metadata: Record<string, string>, source: string): CheckpointMeta {
  const raw = metadata[CHECKPOINT_KEY];
  if (!raw) throw new GraftError(`${source} is not a Graft training checkpoint (no '${CHECKPOINT_KEY}' metadata); load plain weights with loadPretrained / loadStateDict`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(raw);
  } catch (e) {
    throw new GraftError(`${source}: checkpoint metadata is not valid JSON (${(e as Error).message})`);
  }
  if (meta.version !== 1 || !Number.isInteger(meta.epoch)) throw new GraftError(`${source}: unsupported checkpoint metadata (version ${meta.version})`);
  return meta;
}

/**
 * Restore a checkpoint into `model` (weights, BatchNorm statistics, Dropout state) and `optimizer`
 * (its state, when the checkpoint has one). Throws, changing nothing, if the checkpoint is of a
 * different architecture or optimizer.
 */
export async function loadCheckpoint(source: string | Uint8Array, model: Module, optimizer?: Optimizer | null): Promise<TrainingCheckpoint> {
  const name = typeof source === 'string' ? source : '<checkpoint bytes>';
  const file = typeof source === 'string' ? await readSafetensors(source) : parseSafetensors(source, name);
  const meta = parseMeta(file.metadata, name);
  const report = architectureReport(model, modelShapes(file.tensors));
  if (report.missing.length + report.unexpected.length + report.mismatched.length) {
    throw new GraftError(`checkpoint ${name} is for a different architecture; nothing was loaded.\n${describeProblems(report, name).split('\n').slice(1, -1).join('\n')}`);
  }
  const modules = new Map(model.namedModules());
  for (const [m] of meta.dropout) {
    if (!(modules.get(m) instanceof Dropout)) throw new GraftError(`checkpoint ${name}: the model has no Dropout module '${m}'; nothing was loaded`);
  }
  if (optimizer && meta.optimizer) {
    const state: OptimizerState = { kind: meta.optimizer.kind, lrFactor: meta.optimizer.lrFactor, params: [] };
    for (const [param, step] of meta.optimizer.steps) {
      const buffers: Record<string, HostTensor> = {};
      const prefix = `${OPTIMIZER_PREFIX}${param}/`;
      for (const [k, t] of file.tensors) if (k.startsWith(prefix)) buffers[k.slice(prefix.length)] = t;
      state.params.push({ name: param, step, buffers });
    }
    try {
      optimizer.loadStateDict(state, model); // checks everything before it changes anything
    } catch (e) {
      throw new GraftError(`checkpoint ${name}: ${(e as Error).message.replace(/^graft: /, '')}; nothing was loaded`);
    }
  }
  const weights = new Map([...file.tensors].filter(([k]) => !k.startsWith(OPTIMIZER_PREFIX)));
  loadStateDict(model, weights, { source: name });
  for (const [m, s] of meta.dropout) {
    const d = modules.get(m) as Dropout;
    d.seed = s.seed;
    d.calls = s.calls;
  }
  return { epoch: meta.epoch, history: meta.history, seed: meta.seed, source: name };
}
