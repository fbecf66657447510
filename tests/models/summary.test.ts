// model.summary(): parameter totals against torchvision's published counts (resnet18 11,689,512;
// resnet50 25,557,032: torchvision's weights tables, num_params), output shapes worked out by hand
// for a 64x64 input, trainable counts after freezing, and the printed table.
import { describe, expect, it } from 'vitest';
import { formatSummary, resnet18, resnet50, withHead } from '../../src/models/index.ts';
import { testGpu } from '../helpers.ts';

describe('model.summary()', () => {
  it('resnet18: torchvision total, output shapes per stage at 64x64, totals printed', async () => {
    const gpu = await testGpu();
    const net = resnet18({ gpu, init: 'zeros' });
    try {
      const s = await net.summary([64, 64]);
      expect(s.totalParameters).toBe(11_689_512);
      expect(s.trainableParameters).toBe(11_689_512);
      const shape = (name: string) => s.rows.find((r) => r.name === name)?.outputShape;
      // 64 -> conv1 stride 2: 32 -> maxpool: 16 -> layer2: 8 -> layer3: 4 -> layer4: 2.
      expect(shape('conv1')).toEqual([1, 64, 32, 32]);
      expect(shape('maxpool')).toEqual([1, 64, 16, 16]);
      expect(shape('layer1')).toEqual([1, 64, 16, 16]);
      expect(shape('layer2')).toEqual([1, 128, 8, 8]);
      expect(shape('layer4.1.conv2')).toEqual([1, 512, 2, 2]);
      expect(shape('fc')).toEqual([1, 1000]);
      expect(s.outputShape).toEqual([1, 1000]);
      // conv1: 64 x 3 x 7 x 7 = 9,408; fc: 512 x 1000 + 1000 = 513,000; layer1.0: two 3x3 64->64 convs and two BNs.
      const params = (name: string) => s.rows.find((r) => r.name === name)!.parameters;
      expect(params('conv1')).toBe(9408);
      expect(params('fc')).toBe(513_000);
      expect(params('layer1.0')).toBe(2 * 64 * 64 * 9 + 2 * 128);
      const text = formatSummary(s);
      expect(text).toMatch(/^Model: resnet18 \(input \[1, 3, 64, 64\], output \[1, 1000\]\)/);
      expect(text).toMatch(/\nconv1 \(Conv2d\) +\[1, 64, 32, 32\] +9,408 +9,408\n/);
      expect(text).toContain('\nTotal params: 11,689,512\nTrainable params: 11,689,512\nNon-trainable params: 0\n');
    } finally {
      net.dispose();
    }
  }, 60_000);

  it('resnet50 with a new 10-class head, backbone frozen: trainable = the head alone', async () => {
    const gpu = await testGpu();
    const net = withHead(resnet50({ gpu, init: 'zeros' }), { classes: 10 });
    try {
      net.freeze().unfreeze('fc');
      const s = await net.summary([32, 32]);
      // 25,557,032 - the ImageNet fc (2048 x 1000 + 1000) + the new one (2048 x 10 + 10).
      expect(s.totalParameters).toBe(25_557_032 - 2_049_000 + 20_490);
      expect(s.trainableParameters).toBe(20_490);
      expect(s.nonTrainableParameters).toBe(25_557_032 - 2_049_000);
      expect(s.outputShape).toEqual([1, 10]);
      expect(net.training).toBe(true); // the summary's eval pass restores the mode
    } finally {
      net.dispose();
    }
  }, 60_000);
});
