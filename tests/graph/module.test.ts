import { describe, expect, it } from 'vitest';
import { Module } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import type { Tensor } from '../../src/graph/tensor.ts';
import type { Gpu } from '../../src/graph/gpu.ts';
import { testGpu } from '../helpers.ts';

class Affine extends Module {
  readonly weight;
  readonly bias;
  constructor(gpu: Gpu, n: number) {
    super();
    this.weight = this.addParameter('weight', gpu.full([n], 1));
    this.bias = this.addParameter('bias', gpu.zeros([n]));
    this.addBuffer('running_mean', gpu.zeros([n]));
  }
  forward(x: Tensor): Tensor {
    return ops.add(x, this.bias, 0);
  }
}

class Block extends Module {
  readonly conv1;
  readonly conv2;
  constructor(gpu: Gpu) {
    super();
    this.conv1 = this.addModule('conv1', new Affine(gpu, 2));
    this.conv2 = this.addModule('conv2', new Affine(gpu, 2));
  }
  forward(x: Tensor): Tensor {
    return this.conv2.forward(this.conv1.forward(x));
  }
}

class Net extends Module {
  constructor(gpu: Gpu) {
    super();
    this.addModule('layer1', new Module0(gpu));
    this.addModule('fc', new Affine(gpu, 2));
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}
class Module0 extends Module {
  constructor(gpu: Gpu) {
    super();
    this.addModule('0', new Block(gpu));
    this.addModule('1', new Block(gpu));
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

describe('Module', () => {
  it('names parameters and buffers torchvision-style and keeps them apart', async () => {
    const gpu = await testGpu();
    const net = new Net(gpu);
    const names = net.namedParameters().map(([n]) => n);
    expect(names).toContain('layer1.0.conv1.weight');
    expect(names).toContain('layer1.1.conv2.bias');
    expect(names).toContain('fc.weight');
    expect(names).not.toContain('layer1.0.conv1.running_mean');
    expect(net.namedBuffers().map(([n]) => n)).toContain('layer1.1.conv1.running_mean');
    expect(net.stateDict().size).toBe(names.length + net.namedBuffers().length);
    net.dispose();
  });

  it('freeze / unfreeze by prefix; the trainable set follows; unknown prefixes are errors', async () => {
    const gpu = await testGpu();
    const net = new Net(gpu);
    const total = net.parameters().length;
    net.freeze();
    expect(net.trainableParameters().length).toBe(0);
    net.unfreeze('fc');
    expect(net.trainableParameters().map((p) => p.name)).toEqual(['weight', 'bias']);
    net.unfreeze('layer1.1');
    expect(net.trainableParameters().length).toBe(2 + 4);
    // 'layer1.1' must not match 'layer1.10...' style names, and prefixes match whole segments
    expect(() => net.freeze('layer1.0.conv')).toThrow(/no parameter is named 'layer1.0.conv'/);
    net.unfreeze();
    expect(net.trainableParameters().length).toBe(total);
    net.dispose();
  });

  it('train() and eval() reach every submodule', async () => {
    const gpu = await testGpu();
    const net = new Net(gpu);
    net.eval();
    expect(net.namedModules().every(([, m]) => !m.training)).toBe(true);
    net.train();
    expect(net.namedModules().every(([, m]) => m.training)).toBe(true);
    net.dispose();
  });
});
