// Keras HDF5 application weights -> torchvision names and layouts, compared value for value with what
// make_fixtures.py computed with numpy from the same arrays (transposes, the VGG fc1 row permutation,
// conv biases folded into BN running_mean, Keras' BN epsilon folded into running_var).
import { describe, expect, it } from 'vitest';
import { PREPROCESSING, resnet50 } from '../../src/models/index.ts';
import { loadPretrained } from '../../src/weights/pretrained.ts';
import { readStateDict, type HostTensor } from '../../src/weights/state-dict.ts';
import { parseKerasH5, readKerasH5 } from '../../src/weights/keras-h5.ts';
import { readSafetensors } from '../../src/weights/safetensors.ts';
import { inNode } from '../../src/io/host.ts';
import { testGpu } from '../helpers.ts';
import { fixture, fixtureBytes, sameTensor } from './fixtures.ts';

async function mismatches(h5: string, expectedFile: string): Promise<{ problems: string[]; notes: string[]; metadata: Record<string, string> }> {
  const got = await readKerasH5(fixture(h5));
  const expected = (await readSafetensors(fixture(expectedFile))).tensors;
  const problems: string[] = [];
  for (const [name, t] of expected) {
    const p = sameTensor(name, got.tensors.get(name), { shape: t.shape, values: t.data });
    if (p) problems.push(p);
  }
  for (const name of got.tensors.keys()) if (!expected.has(name)) problems.push(`${name}: unexpected`);
  // Same key order as torchvision's state dict.
  if (!problems.length) expect([...got.tensors.keys()]).toEqual([...expected.keys()]);
  return { problems, notes: got.notes, metadata: got.metadata };
}

describe('Keras HDF5 application weights', () => {
  it('VGG16, Keras 1 names (block1_conv1_W_1:0): HWIO -> OIHW, dense transposed, fc1 rows NHWC -> NCHW', async () => {
    const { problems, metadata, notes } = await mismatches('keras-vgg16-k1.h5', 'keras-vgg16.expected.safetensors');
    expect(problems).toEqual([]);
    expect(metadata.arch).toBe('vgg16');
    expect(metadata.preprocessing).toBe('caffe');
    expect(notes.join('\n')).toMatch(/fc1: rows permuted .* \(8 channels x 49 positions\)/);
  });

  it('VGG16, Keras 2 names (block1_conv1/block1_conv1/kernel:0)', async () => {
    const { problems } = await mismatches('keras-vgg16-k2.h5', 'keras-vgg16.expected.safetensors');
    expect(problems).toEqual([]);
  });

  it('ResNet50, keras-applications names (res2a_branch2a_W:0, bn_conv1_running_std:0): biases and eps folded into BN', async () => {
    const { problems, metadata, notes } = await mismatches('keras-resnet50.h5', 'keras-resnet50.expected.safetensors');
    expect(problems).toEqual([]);
    expect(metadata.arch).toBe('resnet50');
    expect(metadata.resnet_stride).toMatch(/^v1/);
    const text = notes.join('\n');
    expect(text).toMatch(/folded the biases of 53 convs/);
    expect(text).toMatch(/BatchNorm epsilon 0\.001 \(Keras\) -> 1e-5/);
    expect(text).toMatch(/ResNet v1.*torchvision's resnet \(v1\.5\) strides the 3x3 conv2/);
  });

  it('tf.keras ResNet names in a model.save file: weights under model_weights, BN epsilons from model_config', async () => {
    const { problems, notes } = await mismatches('keras-tf-resnet.h5', 'keras-tf-resnet.expected.safetensors');
    expect(problems).toEqual([]);
    expect(notes.join('\n')).toMatch(/BatchNorm epsilon 0\.0001, 0\.00001001 \(Keras\)/);
  });
});

describe('Keras weights into Graft models', () => {
  it("ResNet50 .h5 loads strictly into models.resnet50 (narrow: width 2, 5 classes), which then preprocesses the 'caffe' way", async () => {
    const gpu = await testGpu();
    const model = resnet50({ gpu, width: 2, classes: 5, init: 'zeros' });
    try {
      expect(model.preprocessing.channels).toBe('RGB');
      const report = await loadPretrained(model, fixture('keras-resnet50.h5'));
      expect(report.loaded).toBe(320);
      expect([report.missing, report.unexpected, report.mismatched]).toEqual([[], [], []]);
      expect(model.preprocessing).toEqual({ ...PREPROCESSING.caffe, size: [224, 224] });
      expect(report.notes.join('\n')).toMatch(/preprocessing is now 'caffe'/);
      const expected = (await readSafetensors(fixture('keras-resnet50.expected.safetensors'))).tensors;
      const loaded = await readStateDict(model);
      for (const name of ['conv1.weight', 'layer3.5.bn2.running_mean', 'layer4.0.downsample.0.weight', 'fc.weight']) {
        const t = expected.get(name)!;
        expect(sameTensor(name, loaded.get(name), { shape: t.shape, values: t.data })).toBeNull();
      }
    } finally {
      model.dispose();
    }
  });
});

describe('Keras HDF5 bad input', () => {
  it('not an HDF5 file', async () => {
    await expect(readKerasH5(fixture('tiny.pth'))).rejects.toThrow(/tiny\.pth: not an HDF5 file/);
  });

  it('a truncated file names the declared and the actual size', async () => {
    const bytes = await fixtureBytes('keras-vgg16-k1.h5');
    await expect(parseKerasH5(bytes.subarray(0, 40000), 'cut.h5')).rejects.toThrow(/cut\.h5: HDF5 file is truncated: its superblock declares \d+ bytes, the file has 40000/);
  });

  it('a corrupt file fails with its name, not a crash', async () => {
    const bytes = await fixtureBytes('keras-vgg16-k1.h5');
    bytes.fill(0xff, 96, 200);
    await expect(parseKerasH5(bytes, 'corrupt.h5')).rejects.toThrow(/corrupt\.h5: HDF5 file (cannot be opened|is corrupt)/);
  });

  const nodeOnlyDiag = inNode ? it : it.skip;
  nodeOnlyDiag(`a corrupt file prints no HDF5 diagnostics, only the one-line error${inNode ? '' : ' (Node only: the check listens on process.stderr)'}`, async () => {
    const bytes = await fixtureBytes('keras-vgg16-k1.h5');
    bytes.fill(0xff, 2000, 3000);
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    let message = '';
    try {
      message = await parseKerasH5(bytes, 'corrupt.h5').then(() => 'accepted', (e: Error) => e.message);
    } finally {
      process.stderr.write = write;
    }
    expect(message).toMatch(/^graft: corrupt\.h5: HDF5 file (cannot be opened|is corrupt)/);
    expect(message.split('\n')).toHaveLength(1);
    expect(written.join('')).not.toMatch(/HDF5-DIAG/);
  });

  it('an architecture it does not know', async () => {
    await expect(readKerasH5(fixture('keras-unknown.h5'))).rejects.toThrow(/keras-unknown\.h5: unrecognised Keras layer names \(dense_1, \.\.\.\)/);
  });

  // In Chrome, h5wasm does not return from this corruption (a metadata block overwritten): run it in Node only.
  const nodeOnly = inNode ? it : it.skip;
  nodeOnly(`the reader still works after a failure (the HDF5 module is not left broken)${inNode ? '' : ' (skipped in the browser: h5wasm hangs on this corruption there)'}`, async () => {
    const bytes = await fixtureBytes('keras-vgg16-k1.h5');
    bytes.fill(0xff, 2000, 3000);
    await parseKerasH5(bytes, 'corrupt.h5').catch(() => null);
    const file = await readKerasH5(fixture('keras-vgg16-k2.h5'));
    const w: HostTensor = file.tensors.get('features.0.weight')!;
    expect(w.shape).toEqual([4, 3, 3, 3]);
  });
});
