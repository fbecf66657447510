// TF.js LayersModel conversion on a small in-memory Darknet-family model: names, layouts, a forward
// pass against a float64 reference computed in Keras's own layout (NHWC, HWIO), quantised weights,
// and the errors for broken files.
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/graph/gpu.ts';
import { Module } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { scope, type Tensor } from '../../src/graph/tensor.ts';
import { ConvBnLeaky } from '../../src/models/darknet.ts';
import { Linear, MaxPool2d, Sequential } from '../../src/models/layers.ts';
import { loadStateDict, type HostTensor } from '../../src/weights/state-dict.ts';
import { decodeManifest, decodeWeight, layersModelToStateDict, parseLayersModelJson } from '../../src/weights/layers-model.ts';
import { expectClose, randArray, read, testGpu } from '../helpers.ts';
import { fixtureLayers, fixtureModel, functionalTopology, type FixtureModel } from './layers-model-fixture.ts';

const SRC = 'mini/model.json';

function convert(m: FixtureModel): Map<string, HostTensor> {
  return layersModelToStateDict(m.json, decodeManifest(m.json, m.groupBytes, SRC), SRC);
}

/** The fixture's architecture in Graft, named as the converter names it. */
class Mini extends Module {
  readonly features: Sequential;
  readonly classifier: Linear;
  constructor(gpu: Gpu) {
    super();
    this.features = this.addModule('features', new Sequential(new ConvBnLeaky(gpu, 3, 4, 3), new MaxPool2d(2, 2, 'same'), new ConvBnLeaky(gpu, 4, 5, 1)));
    this.classifier = this.addModule('classifier', new Linear(gpu, 5, 6));
  }
  forward(x: Tensor): Tensor {
    return this.classifier.forward(ops.reshape(ops.globalAvgPool(this.features.forward(x)), [x.shape[0], 5]));
  }
}

/** Keras semantics in float64 on x: [N, H, W, C] with the Keras-layout weights. */
function kerasForward(m: FixtureModel, x: Float64Array, [n, h0, w0]: number[], head: 'conv' | 'dense'): Float64Array {
  const v = (name: string) => m.values.get(name)!.data;
  let [h, w, c] = [h0, w0, 3];
  let a = x;
  const convSame = (kernel: Float64Array, k: number, cout: number) => {
    const out = new Float64Array(n * h * w * cout);
    const pad = (k - 1) / 2;
    for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) for (let o = 0; o < cout; o++) {
      let s = 0;
      for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
        const [iy, ix] = [y + ky - pad, xx + kx - pad];
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
        for (let i = 0; i < c; i++) s += a[((b * h + iy) * w + ix) * c + i] * kernel[((ky * k + kx) * c + i) * cout + o];
      }
      out[((b * h + y) * w + xx) * cout + o] = s;
    }
    a = out;
    c = cout;
  };
  const bnLeaky = (name: string) => {
    const [g, be, mu, va] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((s) => v(`${name}/${s}`));
    a = a.map((val, i) => {
      const ch = i % c;
      const y = ((val - mu[ch]) / Math.sqrt(va[ch] + 1e-3)) * g[ch] + be[ch];
      return y > 0 ? y : 0.1 * y;
    });
  };
  const poolSame = () => {
    const [oh, ow] = [Math.ceil(h / 2), Math.ceil(w / 2)];
    const out = new Float64Array(n * oh * ow * c).fill(-Infinity);
    for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) for (let i = 0; i < c; i++) {
      const o = ((b * oh + (y >> 1)) * ow + (xx >> 1)) * c + i;
      out[o] = Math.max(out[o], a[((b * h + y) * w + xx) * c + i]);
    }
    [a, h, w] = [out, oh, ow];
  };
  const gap = () => {
    const out = new Float64Array(n * c);
    for (let b = 0; b < n; b++) for (let p = 0; p < h * w; p++) for (let i = 0; i < c; i++) out[b * c + i] += a[(b * h * w + p) * c + i] / (h * w);
    [a, h, w] = [out, 1, 1];
  };
  convSame(v('conv2d_1/kernel'), 3, 4);
  bnLeaky('batch_normalization_1');
  poolSame();
  convSame(v('conv2d_2/kernel'), 1, 5);
  bnLeaky('batch_normalization_2');
  if (head === 'conv') {
    convSame(v('conv2d_3/kernel'), 1, 6);
    a = a.map((val, i) => val + v('conv2d_3/bias')[i % 6]);
    gap();
  } else {
    gap();
    const [k, bias] = [v('dense_1/kernel'), v('dense_1/bias')];
    const out = new Float64Array(n * 6);
    for (let b = 0; b < n; b++) for (let o = 0; o < 6; o++) {
      let s = bias[o];
      for (let i = 0; i < 5; i++) s += a[b * 5 + i] * k[i * 6 + o];
      out[b * 6 + o] = s;
    }
    a = out;
  }
  return a;
}

const EXPECTED_NAMES = [
  'features.0.conv.weight', 'features.0.bn.weight', 'features.0.bn.bias', 'features.0.bn.running_mean', 'features.0.bn.running_var', 'features.0.bn.num_batches_tracked',
  'features.2.conv.weight', 'features.2.bn.weight', 'features.2.bn.bias', 'features.2.bn.running_mean', 'features.2.bn.running_var', 'features.2.bn.num_batches_tracked',
  'classifier.weight', 'classifier.bias',
];

describe('TF.js LayersModel -> Graft state dict', () => {
  it('names follow torch.nn.Sequential numbering (pools take an index) and the classifier is a Linear', () => {
    const sd = convert(fixtureModel());
    expect([...sd.keys()].sort()).toEqual([...EXPECTED_NAMES].sort());
    expect(sd.get('features.0.conv.weight')!.shape).toEqual([4, 3, 3, 3]);
    expect(sd.get('features.2.conv.weight')!.shape).toEqual([5, 4, 1, 1]);
    expect(sd.get('classifier.weight')!.shape).toEqual([6, 5]);
    expect(sd.get('features.0.bn.num_batches_tracked')!.dtype).toBe('i32');
  });

  it('kernels change layout: HWIO -> OIHW, and the 1x1 head conv / Dense [in, out] -> [out, in]', () => {
    for (const head of ['conv', 'dense'] as const) {
      const m = fixtureModel(head);
      const sd = convert(m);
      const k = m.values.get('conv2d_1/kernel')!.data; // [3, 3, 3, 4]
      const w = sd.get('features.0.conv.weight')!.data; // [4, 3, 3, 3]
      for (let o = 0; o < 4; o++) for (let i = 0; i < 3; i++) for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) expect(w[((o * 3 + i) * 3 + y) * 3 + x]).toBe(k[((y * 3 + x) * 3 + i) * 4 + o]);
      const hk = m.values.get(head === 'conv' ? 'conv2d_3/kernel' : 'dense_1/kernel')!.data; // [(1, 1,) 5, 6]
      const hw = sd.get('classifier.weight')!.data;
      for (let o = 0; o < 6; o++) for (let i = 0; i < 5; i++) expect(hw[o * 5 + i]).toBe(hk[i * 6 + o]);
      expect(Array.from(sd.get('features.2.bn.running_var')!.data)).toEqual(Array.from(m.values.get('batch_normalization_2/moving_variance')!.data));
    }
  });

  it('a Graft model loaded from it computes what Keras computes (float64 NHWC reference, odd sizes)', async () => {
    const gpu = await testGpu();
    for (const head of ['conv', 'dense'] as const) {
      await scope(async () => {
        const m = fixtureModel(head);
        const net = new Mini(gpu).eval();
        loadStateDict(net, convert(m));
        const [n, h, w] = [2, 7, 5];
        const nhwc = randArray(n * h * w * 3, 77);
        const nchw = new Float64Array(nhwc.length);
        for (let b = 0; b < n; b++) for (let c = 0; c < 3; c++) for (let p = 0; p < h * w; p++) nchw[(b * 3 + c) * h * w + p] = nhwc[(b * h * w + p) * 3 + c];
        const y = await read(net.forward(gpu.tensor(nchw, [n, 3, h, w])));
        expectClose(y, kerasForward(m, nhwc, [n, h, w], head), { atol: 1e-5, rtol: 1e-4 }, `mini darknet (${head} head)`);
        net.dispose();
      });
    }
  });

  it('a Sequential topology gives the same names as the Functional one', () => {
    const m = fixtureModel();
    const seq: FixtureModel = { ...m, json: { ...m.json, modelTopology: { model_config: { class_name: 'Sequential', config: { name: 'seq', layers: fixtureLayers().slice(1) } } } } };
    expect([...convert(seq).keys()].sort()).toEqual([...EXPECTED_NAMES].sort());
  });

  it('decodes float16, uint8 and uint16 quantisation and int32', () => {
    const half = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x8000]).buffer);
    const f16 = decodeWeight({ name: 'h', shape: [6], dtype: 'float32', quantization: { dtype: 'float16' } }, half, SRC);
    expect(Array.from(f16.data)).toEqual([1, -2, 65504, 2 ** -24, 0.333251953125, -0]);
    const u8 = decodeWeight({ name: 'q', shape: [2, 2], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } }, new Uint8Array([0, 1, 2, 255]), SRC);
    expect(Array.from(u8.data)).toEqual([-1, -0.5, 0, 126.5]);
    expect(u8.shape).toEqual([2, 2]);
    const u16 = decodeWeight({ name: 'q', shape: [2], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.25, min: 2 } }, new Uint8Array(new Uint16Array([4, 65535]).buffer), SRC);
    expect(Array.from(u16.data)).toEqual([3, 2 + 65535 * 0.25]);
    const i32 = decodeWeight({ name: 'i', shape: [3], dtype: 'int32' }, new Uint8Array(new Int32Array([-7, 0, 123456789]).buffer), SRC);
    expect(i32.dtype).toBe('i32');
    expect(Array.from(i32.data)).toEqual([-7, 0, 123456789]);
  });

  it('quantised groups decode by their stored byte sizes', () => {
    const m = fixtureModel();
    // Store the BN group as uint8: 4 bytes per channel group instead of 16.
    const group = m.json.weightsManifest[0];
    const q = { dtype: 'uint8', scale: 0.01, min: 0.5 };
    group.weights = group.weights.map((w) => ({ ...w, quantization: q }));
    const count = group.weights.reduce((s, w) => s + w.shape[0], 0);
    m.groupBytes[0] = Uint8Array.from({ length: count }, (_, i) => i % 256);
    const sd = convert(m);
    expect(Array.from(sd.get('features.0.bn.weight')!.data)).toEqual([0, 1, 2, 3].map((i) => Math.fround(i * 0.01 + 0.5)));
    expect(Array.from(sd.get('features.0.bn.bias')!.data)).toEqual([4, 5, 6, 7].map((i) => Math.fround(i * 0.01 + 0.5)));
  });

  it('missing gamma/beta (scale or center off) become ones and zeros', () => {
    const m = fixtureModel();
    const layers = fixtureLayers().map((l) => (l.name === 'batch_normalization_1' ? { ...l, config: { ...l.config, scale: false, center: false } } : l));
    m.json.modelTopology = functionalTopology(layers);
    const g = m.json.weightsManifest[0];
    const keep = g.weights.map((w) => !/batch_normalization_1\/(gamma|beta)$/.test(w.name));
    let at = 0;
    const parts: Uint8Array[] = [];
    g.weights.forEach((w, i) => {
      if (keep[i]) parts.push(m.groupBytes[0].subarray(at, at + 4 * w.shape[0]));
      at += 4 * w.shape[0];
    });
    g.weights = g.weights.filter((_, i) => keep[i]);
    m.groupBytes[0] = Uint8Array.from(parts.flatMap((p) => Array.from(p)));
    const sd = convert(m);
    expect(Array.from(sd.get('features.0.bn.weight')!.data)).toEqual([1, 1, 1, 1]);
    expect(Array.from(sd.get('features.0.bn.bias')!.data)).toEqual([0, 0, 0, 0]);
  });
});

describe('TF.js LayersModel errors name the file and the problem', () => {
  const broken = (edit: (m: FixtureModel) => void) => {
    const m = fixtureModel();
    edit(m);
    return () => convert(m);
  };
  const withLayers = (edit: (layers: ReturnType<typeof fixtureLayers>) => ReturnType<typeof fixtureLayers>) => broken((m) => (m.json.modelTopology = functionalTopology(edit(fixtureLayers()))));

  it('a shard too short or too long', () => {
    expect(broken((m) => (m.groupBytes[1] = m.groupBytes[1].subarray(0, 100)))).toThrow(/mini\/model\.json: weight group 2 \(group2-shard1of2\.bin \+ group2-shard2of2\.bin\) holds 100 bytes, but its weights .* need 656: the shard is too short \(truncated\?\)/);
    expect(broken((m) => (m.groupBytes[0] = new Uint8Array(m.groupBytes[0].length + 4)))).toThrow(/weight group 1 .* holds 148 bytes, .* need 144: the shard is too long/);
  });

  it('an unknown dtype', () => {
    expect(broken((m) => (m.json.weightsManifest[0].weights[0].dtype = 'complex64'))).toThrow(/mini\/model\.json: weight 'batch_normalization_1\/gamma' has dtype 'complex64', which Graft cannot read/);
    expect(broken((m) => (m.json.weightsManifest[0].weights[0].quantization = { dtype: 'int4' }))).toThrow(/weight 'batch_normalization_1\/gamma' has dtype 'int4'/);
  });

  it('an unknown layer class, or layers that do not form a chain', () => {
    expect(withLayers((l) => [...l.slice(0, 4), { class_name: 'DepthwiseConv2D', name: 'dw', config: { name: 'dw' } }, ...l.slice(4)])).toThrow(/mini\/model\.json: layer 'dw' is a DepthwiseConv2D, which the Darknet-family converter does not know/);
    const m = fixtureModel();
    const topo = m.json.modelTopology as { model_config: { config: { layers: { inbound_nodes: unknown }[] } } };
    topo.model_config.config.layers[3].inbound_nodes = [[['conv2d_1', 0, 0, {}], ['input_1', 0, 0, {}]]];
    expect(() => convert(m)).toThrow(/layer 'leaky_1' takes \[conv2d_1, input_1\], not the previous layer 'batch_normalization_1': only chains/);
  });

  it('weights missing from the manifest, or left over', () => {
    expect(broken((m) => (m.json.weightsManifest[1].weights[0].name = 'conv2d_9/kernel'))).toThrow(/weights do not match the topology \(missing from the manifest: conv2d_1\/kernel; in the manifest but used by no layer: conv2d_9\/kernel\)/);
  });

  it('a classifier conv that is not 1x1, and a batchnorm without its conv', () => {
    expect(withLayers((l) => l.map((x) => (x.name === 'conv2d_3' ? { ...x, config: { ...x.config, kernel_size: [3, 3] } } : x)))).toThrow(/the last Conv2D 'conv2d_3' \(kernel \[3,3\], strides \[1,1\]\) before the global pooling must be 1x1/);
    expect(withLayers((l) => [l[0], l[2], ...l.slice(1)])).toThrow(/BatchNormalization 'batch_normalization_1' does not follow a Conv2D/);
  });

  it('a bad model.json', () => {
    expect(() => parseLayersModelJson('{"modelTopology": ', SRC)).toThrow(/mini\/model\.json: not valid JSON/);
    expect(() => parseLayersModelJson('{"format": "graph-model"}', SRC)).toThrow(/mini\/model\.json: no 'modelTopology': not a TensorFlow\.js LayersModel/);
    expect(() => parseLayersModelJson('{"modelTopology": {}, "weightsManifest": [{"paths": ["a"], "weights": [{"name": "w", "shape": [-1]}]}]}', SRC)).toThrow(/weightsManifest\[0\] has a weight without a name or a valid shape/);
  });

  it('loading into the wrong architecture lists every mismatch (strict)', async () => {
    const gpu = await testGpu();
    scope(() => {
      const sd = convert(fixtureModel());
      sd.set('classifier.weight', { shape: [6, 7], dtype: 'f32', data: new Float32Array(42) });
      const net = new Mini(gpu);
      expect(() => loadStateDict(net, sd, { source: SRC })).toThrow(/state dict from mini\/model\.json does not match the model:[\s\S]*mis-shaped \(1\): classifier\.weight: expected \[6, 5\], got \[6, 7\]/);
      net.dispose();
    });
  });
});

