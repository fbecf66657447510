// A model as a list of stages in forward order: what the feature cache, the recipes and the CLI cut
// at. Each architecture lists its own stages (a `stages()` method, built from the helpers here):
//
// Darknet `features.0` .. `features.18`, `pool`, `classifier` (its dropout included); ResNet
// `conv1`, `bn1` (with relu and maxpool), `layer1.0` .. `layer4.1` (one per block), `avgpool`, `fc`
// (with its dropout); VGG `features.i`, `avgpool`, `classifier.i` / `head`; a Sequential its layers
// `0`, `1`, ... (in layer lists a conv or linear and the ReLU fused into it are one stage, and a
// dropout belongs to the stage after it).
import { GraftError } from '../core/index.ts';
import type { Module } from '../graph/module.ts';
import * as ops from '../graph/ops.ts';
import type { Tensor } from '../graph/tensor.ts';
import { runFused } from './heads.ts';
import { Conv2d, Dropout, Linear, ReLU, Sequential } from './layers.ts';

export interface Stage {
  /** The name to cut at: the module path it starts with ('features.14', 'layer3.0', 'fc') or a step's name ('pool'). */
  name: string;
  /** [dotted name, module] of every module the stage runs: its parameters keep these names. */
  modules: [string, Module][];
  run(x: Tensor): Tensor;
}

/** A model that lists its own stages. */
export interface Staged {
  stages(): Stage[];
}

export const single = (name: string, m: Module): Stage => ({ name, modules: [[name, m]], run: (x) => m.forward(x) });

/**
 * Layers of a Sequential as stages, named `${prefix}.i` (or `i`): a Conv2d/Linear and the ReLU after
 * it form one stage (run fused, as the models do), and a Dropout joins the stage after it, so that
 * a cut at a layer keeps the dropout in front of it in the trained part.
 */
export function layerStages(prefix: string, layers: readonly Module[]): Stage[] {
  const named = (i: number) => (prefix ? `${prefix}.${i}` : String(i));
  const out: Stage[] = [];
  let dropoutAt: number | null = null;
  for (let i = 0; i < layers.length; i++) {
    if (layers[i] instanceof Dropout && i + 1 < layers.length) {
      dropoutAt ??= i;
      continue;
    }
    const pair = (layers[i] instanceof Conv2d || layers[i] instanceof Linear) && layers[i + 1] instanceof ReLU;
    const first = dropoutAt ?? i;
    const slice = layers.slice(first, pair ? i + 2 : i + 1);
    out.push({ name: named(i), modules: slice.map((m, k) => [named(first + k), m]), run: (x) => runFused(slice, x) });
    dropoutAt = null;
    if (pair) i++;
  }
  return out;
}

/** The head: an optional dropout, then the classifier. */
export function headStage(name: string, dropout: Module | null, head: Module): Stage {
  return { name, modules: [...(dropout ? [['dropout', dropout] as [string, Module]] : []), [name, head]], run: (x) => head.forward(dropout ? dropout.forward(x) : x) };
}

export const flatten = (name: string, pool: (x: Tensor) => Tensor, features: number): Stage => ({ name, modules: [], run: (x) => ops.reshape(pool(x), [x.shape[0], features]) });

/** The model's stages in forward order: its own `stages()`, or a Sequential's layers. */
export function modelStages(model: Module): Stage[] {
  if (typeof (model as Partial<Staged>).stages === 'function') return (model as unknown as Staged).stages();
  if (model instanceof Sequential) return layerStages('', model.layers);
  throw new GraftError(`${model.constructor.name}: cannot split this model into stages (give it a stages() method, or use a Sequential or a models.* network)`);
}
