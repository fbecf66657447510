// The workload list for a set of options: kernel shapes scaled by --scale (the real ImageNet layer
// shapes at 1), then the model workloads.
import type { BenchOptions } from '../options.ts';
import type { Workload } from '../workload.ts';
import { batchnormWorkloads } from './batchnorm.ts';
import { CONV_SHAPES, conv2dWorkloads } from './conv2d.ts';
import { matmulWorkloads } from './matmul.ts';
import { modelWorkloads } from './models.ts';
import { softmaxWorkloads } from './softmax.ts';

export async function buildWorkloads(o: BenchOptions): Promise<Workload[]> {
  const spatial = (h: number) => Math.min(o.maxSpatial, Math.max(4, Math.round(h * o.scale)));
  const scaled = (v: number, min: number) => Math.max(min, Math.round(v * o.scale));
  if (o.modelsOnly) return modelWorkloads(o);
  return [
    ...conv2dWorkloads(CONV_SHAPES.map((s) => ({ ...s, n: o.batch, h: spatial(s.h) }))),
    ...matmulWorkloads(scaled(1024, 64), [
      { from: 'resnet18 fc', batch: scaled(32, 1), inF: 512, outF: 1000 },
      { from: 'resnet50 fc', batch: scaled(32, 1), inF: 2048, outF: 1000 },
      { from: 'vgg16 classifier.6', batch: scaled(32, 1), inF: 4096, outF: 1000 },
      ...(o.vggClassifier ? [{ from: 'vgg16 classifier.3', batch: scaled(32, 1), inF: 4096, outF: 4096 }] : []),
    ]),
    ...batchnormWorkloads([
      [o.trainBatch, 64, spatial(56)],
      [o.trainBatch, 256, spatial(14)],
    ]),
    ...softmaxWorkloads([[scaled(64, 8), 1000]]),
    ...(await modelWorkloads(o)),
  ];
}
