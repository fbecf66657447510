// Floating-point operations of the model workloads, from the architectures and shapes: convolutions
// and fully connected layers only (2 per multiply-add), the usual convention; batchnorm, ReLU,
// pooling and the loss are left out (well under 1% of a ResNet's or VGG's).
import type { Arch } from './nets.ts';

/** One conv or linear layer: its name prefix (torchvision's), forward FLOPs. */
export interface LayerFlops {
  name: string;
  flops: number;
}

const convOut = (size: number, k: number, stride: number, pad: number) => Math.floor((size + 2 * pad - k) / stride) + 1;

/** The conv and linear layers of `arch` at batch n and n x 3 x size x size input, in forward order. */
export function modelLayers(arch: Arch, n: number, size: number, includeTop = true): LayerFlops[] {
  const out: LayerFlops[] = [];
  const conv = (name: string, cin: number, cout: number, k: number, outSize: number) => out.push({ name, flops: 2 * n * cout * outSize * outSize * cin * k * k });
  const linear = (name: string, inF: number, outF: number) => out.push({ name, flops: 2 * n * inF * outF });
  if (arch === 'vgg16') {
    const cfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'] as const;
    let [s, cin, i] = [size, 3, 0];
    for (const v of cfg) {
      if (v === 'M') {
        s = Math.floor(s / 2);
        i++;
        continue;
      }
      conv(`features.${i}`, cin, v, 3, s);
      cin = v;
      i += 2;
    }
    if (includeTop) {
      linear('classifier.0', 512 * 49, 4096);
      linear('classifier.3', 4096, 4096);
      linear('classifier.6', 4096, 1000);
    }
    return out;
  }
  const bottleneck = arch === 'resnet50';
  const blocks = [bottleneck ? 3 : 2, bottleneck ? 4 : 2, bottleneck ? 6 : 2, bottleneck ? 3 : 2];
  let s = convOut(size, 7, 2, 3);
  conv('conv1', 3, 64, 7, s);
  s = convOut(s, 3, 2, 1);
  let cin = 64;
  for (let k = 0; k < 4; k++) {
    const planes = 64 * 2 ** k;
    for (let b = 0; b < blocks[k]; b++) {
      const stride = b === 0 && k > 0 ? 2 : 1;
      const so = convOut(s, 3, stride, 1);
      const p = `layer${k + 1}.${b}.`;
      const cout = bottleneck ? planes * 4 : planes;
      if (bottleneck) {
        conv(`${p}conv1`, cin, planes, 1, s);
        conv(`${p}conv2`, planes, planes, 3, so);
        conv(`${p}conv3`, planes, cout, 1, so);
      } else {
        conv(`${p}conv1`, cin, planes, 3, so);
        conv(`${p}conv2`, planes, planes, 3, so);
      }
      if (stride !== 1 || cin !== cout) conv(`${p}downsample.0`, cin, cout, 1, so);
      cin = cout;
      s = so;
    }
  }
  if (includeTop) linear('fc', cin, 1000);
  return out;
}

export function forwardFlops(arch: Arch, n: number, size: number, includeTop = true): number {
  return modelLayers(arch, n, size, includeTop).reduce((a, l) => a + l.flops, 0);
}

/**
 * One SGD step: the forward, plus per trainable layer its weight gradient (the forward's FLOPs)
 * and its input gradient (the same again) where that input needs one: not for the lowest trainable
 * layers, whose input comes from the image or from frozen layers.
 */
export function trainStepFlops(arch: Arch, n: number, size: number, trainable: (name: string) => boolean, inputNeedsNoGrad: (name: string) => boolean): number {
  return modelLayers(arch, n, size).reduce((a, l) => a + l.flops * (1 + (trainable(l.name) ? 1 + (inputNeedsNoGrad(l.name) ? 0 : 1) : 0)), 0);
}
