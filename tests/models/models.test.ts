// VGG and ResNet as transfer-learning bases: features only (includeTop: false), withHead, cut
// points and freezing, the registry, and bad input. Narrow nets (width 8) on 32x32 inputs.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import * as ops from '../../src/graph/ops.ts';
import { noGrad, scope } from '../../src/graph/tensor.ts';
import { ARCHS, ResNet, VGG, createModel, resnet18, vgg11, vgg16, withHead } from '../../src/models/index.ts';
import { Conv2d, Dropout } from '../../src/models/layers.ts';
import keys from '../fixtures/golden/torchvision-keys.json';
import { convGradDispatches, expectClose, oneDispatchPerConvPass, randArray, read, testGpu } from '../helpers.ts';
import * as ref from '../reference/matmul.ts';

const trainable = (net: { namedParameters(): [string, { trainable: boolean }][] }) => net.namedParameters().filter(([, p]) => p.trainable).map(([n]) => n);

describe('models: features, heads, freezing', () => {
  it('includeTop: false gives the pooled features [N, numFeatures]; with the classifier on top they give its logits', async () => {
    const gpu = await testGpu();
    const x = gpu.tensor(randArray(2 * 3 * 32 * 32, 1), [2, 3, 32, 32]);
    for (const [make, numFeatures] of [
      [(top: boolean) => new ResNet(18, { gpu, width: 8, classes: 5, seed: 3, includeTop: top }), 64],
      [(top: boolean) => new ResNet(50, { gpu, width: 8, classes: 5, seed: 3, includeTop: top }), 256],
      [(top: boolean) => new VGG(11, { gpu, width: 8, hidden: 16, classes: 5, seed: 3, includeTop: top, batchNorm: true }), 64 * 49],
    ] as const) {
      const full = make(true).eval();
      const base = make(false).eval();
      expect(base.numFeatures).toBe(numFeatures);
      await scope(async () => {
        const features = noGrad(() => base.forward(x));
        expect(features.shape).toEqual([2, numFeatures]);
        const logits = noGrad(() => full.forward(x));
        expect(logits.shape).toEqual([2, 5]);
        // The same seed builds the same trunk: logits = classifier(features), the classifier run on the CPU.
        let h = await read(features);
        const linears = full instanceof ResNet ? [full.fc!] : [0, 3, 6].map((i) => (full as VGG).classifier!.layers[i] as import('../../src/models/layers.ts').Linear);
        for (const [i, lin] of linears.entries()) {
          h = ref.matmul(h, await read(lin.weight), 1, 1, 2, lin.inFeatures, lin.outFeatures, { transB: true, bias: await read(lin.bias!), slope: i < linears.length - 1 ? 0 : null });
        }
        expectClose(await read(logits), h, { atol: 1e-4, rtol: 1e-4 }, `${full.arch} logits from features`);
      });
      full.dispose();
      base.dispose();
    }
    x.dispose();
  });

  it("withHead on an ImageNet classifier replaces torchvision's last layer: keys stay torchvision's", async () => {
    const gpu = await testGpu();
    const net = withHead(resnet18({ gpu, init: 'zeros' }), { classes: 3 });
    try {
      const expected = (keys.archs.resnet18.keys as string[]).map((l) => l.replace(/^fc\.weight:1000,512$/, 'fc.weight:3,512').replace(/^fc\.bias:1000$/, 'fc.bias:3'));
      expect([...net.stateDict()].map(([n, t]) => `${n}:${t.shape.join(',')}`).sort()).toEqual(expected.sort());
      expect(net.cutPoints).toEqual(['conv1', 'bn1', 'layer1', 'layer2', 'layer3', 'layer4', 'fc']);
    } finally {
      net.dispose();
    }
    const v = withHead(new VGG(11, { gpu, width: 8, hidden: 16, seed: 2 }), { classes: 4, dropout: 0.2 });
    try {
      expect(v.classifier!.layers.map((m) => m.constructor.name)).toEqual(['Linear', 'ReLU', 'Dropout', 'Linear', 'ReLU', 'Dropout', 'Linear']);
      expect(v.stateDict().get('classifier.6.weight')!.shape).toEqual([4, 16]);
      expect((v.classifier!.layers[2] as Dropout).p).toBe(0.2);
      expect((v.classifier!.layers[5] as Dropout).p).toBe(0.2);
    } finally {
      v.dispose();
    }
  });

  it('withHead on features only attaches head (VGG) or fc (ResNet) computing a Linear of the features', async () => {
    const gpu = await testGpu();
    const x = gpu.tensor(randArray(2 * 3 * 32 * 32, 2), [2, 3, 32, 32]);
    for (const base of [new VGG(11, { gpu, width: 8, includeTop: false, seed: 4 }), new ResNet(34, { gpu, width: 8, includeTop: false, seed: 4 })]) {
      base.eval();
      const features = await read(noGrad(() => base.forward(x)));
      const net = withHead(base, { classes: 3, dropout: 0.5 });
      expect(net).toBe(base);
      const head = net instanceof VGG ? net.head! : (net as ResNet).fc!;
      expect(net.cutPoints[net.cutPoints.length - 1]).toBe(net instanceof VGG ? 'head' : 'fc');
      expect(head.weight.shape).toEqual([3, base.numFeatures]);
      await scope(async () => {
        // Eval mode: the dropout is the identity.
        const logits = noGrad(() => net.forward(x));
        const expected = ref.matmul(features, await read(head.weight), 1, 1, 2, base.numFeatures, 3, { transB: true, bias: await read(head.bias!) });
        expectClose(await read(logits), expected, { atol: 1e-4, rtol: 1e-4 }, `${net.arch} head`);
      });
      net.dispose();
    }
    x.dispose();
  });

  it('freezing by cut point: frozen layers get no gradient, no weight-gradient dispatch, and no input gradient below the cut', async () => {
    const gpu = await testGpu();
    const net = withHead(new VGG(11, { gpu, width: 8, hidden: 16, seed: 5 }), { classes: 3 });
    expect(net.cutPoints).toEqual(['features', 'features.0', 'features.3', 'features.6', 'features.11', 'features.16', 'classifier']);
    net.freeze('features');
    expect(trainable(net).every((n) => n.startsWith('classifier.'))).toBe(true);
    net.unfreezeFrom('features.16');
    expect(trainable(net)).toEqual(['features.16.weight', 'features.16.bias', 'features.18.weight', 'features.18.bias', ...trainable(net).filter((n) => n.startsWith('classifier.'))]);
    // Conv gradient dispatches with the features frozen but features.16 and features.18, then with
    // every layer trainable (each conv pass one dispatch, see oneDispatchPerConvPass).
    const convDispatches = () =>
      oneDispatchPerConvPass(() =>
        scope(async () => {
          const x = gpu.tensor(randArray(2 * 3 * 32 * 32, 3), [2, 3, 32, 32]);
          const loss = ops.softmaxCrossEntropy(net.forward(x), gpu.tensor([0, 2], [2], 'i32'));
          gpu.resetCounters();
          backward(loss);
          await gpu.sync();
          const d = gpu.stats().dispatches;
          return convGradDispatches(d);
        }),
      );
    // Expected, from the net's own structure: a weight gradient for each conv whose weight trains; an
    // input gradient for each conv with something trainable below it (every conv but the first when
    // all trains; with the cut at features.16, only the convs above features.16).
    const convs = net.namedModules().filter(([, m]) => m instanceof Conv2d).map(([n]) => n);
    expect(convs).toEqual(['features.0', 'features.3', 'features.6', 'features.8', 'features.11', 'features.13', 'features.16', 'features.18']);
    const trainsNow = (m: string) => trainable(net).includes(`${m}.weight`);
    const above = (m: string) => Number(m.split('.')[1]) > 16;
    const expectedPartly = { filter: convs.filter(trainsNow).length, input: convs.filter((m) => trainsNow(m) && above(m)).length };
    expect(expectedPartly).toEqual({ filter: 2, input: 1 });
    const partly = await convDispatches();
    for (const [name, p] of net.namedParameters()) expect(`${name}: ${p.grad !== null}`).toBe(`${name}: ${p.trainable}`);
    net.unfreeze();
    net.namedParameters().forEach(([, p]) => (p.grad?.dispose(), (p.grad = null)));
    const all = await convDispatches();
    expect(partly).toEqual(expectedPartly);
    expect(all).toEqual({ filter: convs.length, input: convs.length - 1 });
    net.dispose();

    const r = new ResNet(18, { gpu, width: 8, classes: 2, init: 'zeros' });
    r.freeze().unfreezeFrom('layer4');
    expect(trainable(r).every((n) => n.startsWith('layer4.') || n.startsWith('fc.'))).toBe(true);
    expect(trainable(r)).toContain('fc.weight');
    r.unfreeze().freeze('layer3');
    expect(trainable(r).some((n) => n.startsWith('layer3.'))).toBe(false);
    expect(trainable(r)).toContain('layer2.1.conv2.weight');
    expect(() => r.unfreezeFrom('layer5')).toThrow(/no parameter named 'layer5'.*cut points: conv1, bn1, layer1/);
    r.dispose();
  });

  it('the registry builds every architecture by name and names the known ones otherwise', async () => {
    const gpu = await testGpu();
    expect([...ARCHS]).toEqual(['vgg11', 'vgg13', 'vgg16', 'vgg19', 'vgg11_bn', 'vgg13_bn', 'vgg16_bn', 'vgg19_bn', 'resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'darknet-tiny']);
    const net = createModel('vgg13_bn', { gpu, init: 'zeros', includeTop: false });
    expect(net.arch).toBe('vgg13_bn');
    expect(net.numFeatures).toBe(25088);
    net.dispose();
    const tiny = createModel('darknet-tiny', { gpu, classes: 7 });
    expect(tiny.arch).toBe('darknet-tiny');
    tiny.dispose();
    expect(() => createModel('vgg17', { gpu })).toThrow(/unknown architecture 'vgg17'; known: vgg11, vgg13/);
  });

  it('bad input and options say what is wrong', async () => {
    const gpu = await testGpu();
    const net = new ResNet(18, { gpu, width: 8, init: 'zeros' });
    await scope(() => {
      expect(() => net.forward(gpu.zeros([1, 3, 16, 16]))).toThrow(/resnet18: input expected \[N, 3, H, W\] with H, W >= 32, got \[1, 3, 16, 16\]/);
      expect(() => net.forward(gpu.zeros([1, 1, 32, 32]))).toThrow(/got \[1, 1, 32, 32\]/);
    });
    expect(() => withHead(net, { classes: 0 })).toThrow(/classes must be a positive integer, got 0/);
    expect(() => withHead(net, { classes: 2, dropout: 1 })).toThrow(/dropout must be in \[0, 1\), got 1/);
    net.dispose();
    expect(() => vgg11({ gpu, width: 12 })).toThrow(/width 12 must be a positive multiple of 8/);
    expect(() => vgg16({ gpu, classes: 2.5, init: 'zeros' })).toThrow(/classes must be a positive integer, got 2.5/);
  });
});
