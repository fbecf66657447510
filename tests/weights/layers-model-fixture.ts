// A small Darknet-family TF.js LayersModel built in memory: its model.json object, each weight
// group's bytes, and the Keras-layout values, for the layers-model tests (Node and Chrome alike).
import type { LayersModelJson, ManifestGroup, ManifestWeight } from '../../src/weights/layers-model.ts';
import { randArray } from '../helpers.ts';

type LayerSpec = { class_name: string; name: string; config: Record<string, unknown> };

export interface FixtureModel {
  json: LayersModelJson;
  groupBytes: Uint8Array[];
  /** Keras weight name -> float64 values in Keras layout. */
  values: Map<string, { shape: number[]; data: Float64Array }>;
}

const conv = (name: string, filters: number, k: number, useBias = false, activation = 'linear'): LayerSpec => ({
  class_name: 'Conv2D',
  name,
  config: { name, filters, kernel_size: [k, k], strides: [1, 1], padding: 'same', use_bias: useBias, activation, data_format: 'channels_last' },
});
const bn = (name: string): LayerSpec => ({ class_name: 'BatchNormalization', name, config: { name, epsilon: 0.001, center: true, scale: true } });
const leaky = (name: string): LayerSpec => ({ class_name: 'LeakyReLU', name, config: { name, alpha: 0.1 } });
const pool = (name: string): LayerSpec => ({ class_name: 'MaxPooling2D', name, config: { name, pool_size: [2, 2], strides: [2, 2], padding: 'same' } });

/**
 * input 3 channels -> conv 3x3 (4) + bn + leaky -> pool -> conv 1x1 (5) + bn + leaky -> classifier
 * (a 1x1 conv with bias to 6 classes, or a Dense after the pooling) -> global average.
 */
export function fixtureLayers(head: 'conv' | 'dense' = 'conv'): LayerSpec[] {
  const input: LayerSpec = { class_name: 'InputLayer', name: 'input_1', config: { name: 'input_1', batch_input_shape: [null, null, null, 3] } };
  const gap: LayerSpec = { class_name: 'GlobalAveragePooling2D', name: 'gap', config: { name: 'gap' } };
  const trunk = [input, conv('conv2d_1', 4, 3), bn('batch_normalization_1'), leaky('leaky_1'), pool('pool_1'), conv('conv2d_2', 5, 1), bn('batch_normalization_2'), leaky('leaky_2')];
  if (head === 'conv') return [...trunk, conv('conv2d_3', 6, 1, true), gap];
  return [...trunk, gap, { class_name: 'Dense', name: 'dense_1', config: { name: 'dense_1', units: 6, use_bias: true, activation: 'linear' } }];
}

/** A Functional ('Model') topology chaining the layers, as Keras 2 writes it. */
export function functionalTopology(layers: LayerSpec[]): unknown {
  const chained = layers.map((l, i) => ({ ...l, inbound_nodes: i === 0 ? [] : [[[layers[i - 1].name, 0, 0, {}]]] }));
  return { keras_version: '2.1.6', backend: 'tensorflow', model_config: { class_name: 'Model', config: { name: 'model_1', layers: chained, input_layers: [[layers[0].name, 0, 0]], output_layers: [[layers[layers.length - 1].name, 0, 0]] } } };
}

/** The weights each layer holds, Keras names and shapes. */
export function fixtureWeights(head: 'conv' | 'dense' = 'conv'): ManifestWeight[] {
  const bnWeights = (name: string, c: number) => ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((v) => ({ name: `${name}/${v}`, shape: [c], dtype: 'float32' }));
  const classifier =
    head === 'conv'
      ? [{ name: 'conv2d_3/kernel', shape: [1, 1, 5, 6], dtype: 'float32' }, { name: 'conv2d_3/bias', shape: [6], dtype: 'float32' }]
      : [{ name: 'dense_1/kernel', shape: [5, 6], dtype: 'float32' }, { name: 'dense_1/bias', shape: [6], dtype: 'float32' }];
  return [{ name: 'conv2d_1/kernel', shape: [3, 3, 3, 4], dtype: 'float32' }, ...bnWeights('batch_normalization_1', 4), { name: 'conv2d_2/kernel', shape: [1, 1, 4, 5], dtype: 'float32' }, ...bnWeights('batch_normalization_2', 5), ...classifier];
}

/** float32 little-endian bytes of the values. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** The whole fixture: weights split into two groups (the BN weights first), random values (variances > 0). */
export function fixtureModel(head: 'conv' | 'dense' = 'conv'): FixtureModel {
  const weights = fixtureWeights(head);
  const values = new Map<string, { shape: number[]; data: Float64Array }>();
  weights.forEach((w, i) => {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const variance = w.name.endsWith('moving_variance');
    values.set(w.name, { shape: w.shape, data: Float64Array.from(randArray(n, 500 + i, variance ? 0.5 : -1, variance ? 2 : 1), (v) => Math.fround(v)) });
  });
  const groups: ManifestGroup[] = [
    { paths: ['group1-shard1of1.bin'], weights: weights.filter((w) => w.name.startsWith('batch_')) },
    { paths: ['group2-shard1of2.bin', 'group2-shard2of2.bin'], weights: weights.filter((w) => !w.name.startsWith('batch_')) },
  ];
  const groupBytes = groups.map((g) => {
    const parts = g.weights.map((w) => f32Bytes(values.get(w.name)!.data));
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
    return out;
  });
  return { json: { modelTopology: functionalTopology(fixtureLayers(head)), weightsManifest: groups, format: 'layers-model' }, groupBytes, values };
}
