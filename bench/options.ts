// Benchmark options: the command line, the presets (--quick for a 2-core machine without a GPU,
// the default full ImageNet shapes for a real GPU), and the list of contenders.

export const CONTENDERS = ['graft', 'tfjs-webgpu', 'tfjs-wasm', 'tfjs-cpu', 'ort-webgpu', 'ort-wasm'] as const;
export type ContenderId = (typeof CONTENDERS)[number];
/** ONNX Runtime Web's contenders (model inference rows only). */
export const ORT_CONTENDERS: readonly ContenderId[] = ['ort-webgpu', 'ort-wasm'];

/**
 * The ONNX file of one model row (bench/onnx.ts, run before the runner starts): a path relative to
 * the repository root, or why there is none (no torch in /usr/bin/python3, a failed export).
 */
export type OnnxModel = { file: string } | { unavailable: string } | { error: string };

export interface BenchOptions {
  /** 'node' (Dawn) or 'chrome' (headless, puppeteer). */
  runner: 'node' | 'chrome';
  preset: 'quick' | 'full' | 'models';
  /** Substrings (comma-separated on the command line): a workload runs when its id contains one. */
  filter: string[];
  warmup: number;
  reps: number;
  /** Kernel workloads: spatial sizes of the real layer shapes are multiplied by this (min 4)... */
  scale: number;
  /** ...and capped at this (the quick preset keeps VGG's 224x224 layer from dominating). */
  maxSpatial: number;
  /** Kernel workloads: batch size of conv inputs. */
  batch: number;
  /** Model workloads: input size and forward batch sizes per network (resnet18's size also for training). */
  models: Record<'resnet18' | 'resnet50' | 'vgg16', { image: number; batches: number[] }>;
  /** VGG16 with its classifier (25088 -> 4096 -> 4096 -> 1000), or its pooled features only. */
  vggClassifier: boolean;
  /** Batch of the fine-tuning step and of the batchnorm workloads. */
  trainBatch: number;
  /** Input size of the fine-tuning step (resnet18). */
  trainImage: number;
  /** Only the model and training-step workloads (the --models preset). */
  modelsOnly?: boolean;
  contenders: ContenderId[];
  /** A case whose first run says it would take longer than this (ms) gets fewer repetitions. */
  caseBudgetMs: number;
  /** Where the JSON, HTML and table go (default bench/results). */
  outDir: string;
  /** Workload id -> its ONNX file for the ORT contenders (filled by bench/onnx.ts before the run). */
  onnx?: Record<string, OnnxModel>;
}

export const PRESETS: Record<BenchOptions['preset'], Omit<BenchOptions, 'runner' | 'filter' | 'contenders' | 'outDir'>> = {
  // Reduced sizes that finish in a few minutes per runner on 2 CPU cores through SwiftShader
  // (tfjs-webgpu's shader compilation alone is ~20 s per network there): the small batch on
  // resnet18 only, VGG16 without its 120M-weight classifier.
  quick: {
    preset: 'quick', warmup: 1, reps: 3, scale: 0.25, maxSpatial: 28, batch: 1, caseBudgetMs: 10_000,
    models: { resnet18: { image: 48, batches: [1, 2] }, resnet50: { image: 32, batches: [1] }, vgg16: { image: 32, batches: [1] } },
    vggClassifier: false, trainBatch: 2, trainImage: 48,
  },
  // The real ImageNet shapes: meant for a machine with a GPU.
  full: {
    preset: 'full', warmup: 2, reps: 10, scale: 1, maxSpatial: 224, batch: 1, caseBudgetMs: 120_000,
    models: { resnet18: { image: 224, batches: [1, 8] }, resnet50: { image: 224, batches: [1, 8] }, vgg16: { image: 224, batches: [1, 8] } },
    vggClassifier: true, trainBatch: 8, trainImage: 224,
  },
  // The model rows of issue 11's table at full size: resnet18, resnet50 and vgg16 (with its
  // classifier) forward at batch 1 on 224x224, and resnet18 SGD steps at batch 8 on 112x112.
  models: {
    preset: 'models', warmup: 2, reps: 5, scale: 1, maxSpatial: 224, batch: 1, caseBudgetMs: 600_000,
    models: { resnet18: { image: 224, batches: [1] }, resnet50: { image: 224, batches: [1] }, vgg16: { image: 224, batches: [1] } },
    vggClassifier: true, trainBatch: 8, trainImage: 112, modelsOnly: true,
  },
};

/** Whether a workload (its id and title) passes the --filter list: it contains one of the strings. */
export const passesFilter = (filter: string[], id: string, title: string): boolean => !filter.length || filter.some((f) => id.includes(f) || title.includes(f));

export const USAGE = `npm run bench -- [options]
  --node              run in Node through Dawn (default: headless Chrome through puppeteer)
  --quick             reduced sizes (a few minutes on 2 CPU cores without a GPU)
  --full              real ImageNet layer and model sizes (the default; meant for a GPU)
  --models            only the full-size model rows: resnet18/50, vgg16 forward b1 224, resnet18
                      SGD step b8 112 (layer4 + fc, and all trainable)
  --filter a,b        only workloads whose id contains a or b (e.g. conv2d, matmul, resnet18)
  --contenders a,b    any of ${CONTENDERS.join(', ')} (default: all;
                      ort-*: ONNX Runtime Web, model inference rows only, ONNX files exported by
                      /usr/bin/python3 weights-tools/export_onnx.py, cached in <out>/cache/onnx)
  --reps N            timed runs per case            --warmup N   untimed runs after the first (min 1)
  --scale S           kernel spatial-size factor     --batch N    kernel (conv) batch size
  --max-spatial N     cap on kernel spatial sizes    --vgg-classifier on|off
  --image N           model input size (all models)  --model-batches 1,8   forward batch sizes (all models)
  --train-batch N     fine-tuning step batch         --case-budget-s S      cap per case
  --out DIR           results folder (default bench/results)`;

/** Parse argv (after `npm run bench --`). Throws with the usage on a bad option. */
export function parseArgs(argv: string[]): BenchOptions {
  const preset = argv.includes('--models') ? 'models' : argv.includes('--quick') ? 'quick' : 'full';
  const o: BenchOptions = {
    ...structuredClone(PRESETS[preset]),
    runner: argv.includes('--node') ? 'node' : 'chrome',
    filter: [],
    contenders: [...CONTENDERS],
    outDir: 'bench/results',
  };
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min) throw new Error(`bench: ${flag} expects a number >= ${min}, got ${v ?? 'nothing'}\n\n${USAGE}`);
    return n;
  };
  const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--node': case '--chrome': case '--quick': case '--full': case '--models':
        break;
      case '--filter': o.filter = list(v); i++; break;
      case '--reps': o.reps = num(a, v, 1); i++; break;
      case '--warmup': o.warmup = num(a, v, 0); i++; break;
      case '--scale': o.scale = num(a, v, 0.01); i++; break;
      case '--batch': o.batch = num(a, v, 1); i++; break;
      case '--max-spatial': o.maxSpatial = num(a, v, 4); i++; break;
      case '--vgg-classifier': o.vggClassifier = v !== 'off'; i++; break;
      case '--image': { const n = num(a, v, 32); for (const m of Object.values(o.models)) m.image = n; o.trainImage = n; i++; break; }
      case '--model-batches': { const bs = list(v).map((b) => num(a, b, 1)); for (const m of Object.values(o.models)) m.batches = bs; i++; break; }
      case '--train-batch': o.trainBatch = num(a, v, 2); i++; break;
      case '--case-budget-s': o.caseBudgetMs = num(a, v, 1) * 1000; i++; break;
      case '--out': o.outDir = v ?? o.outDir; i++; break;
      case '--contenders': {
        const picked = list(v);
        const bad = picked.filter((c) => !(CONTENDERS as readonly string[]).includes(c));
        if (bad.length || !picked.length) throw new Error(`bench: unknown contender(s) ${bad.join(', ') || '(none given)'}; choose from ${CONTENDERS.join(', ')}`);
        o.contenders = picked as ContenderId[];
        i++;
        break;
      }
      case '--help': case '-h':
        throw new Error(USAGE);
      default:
        throw new Error(`bench: unknown option '${a}'\n\n${USAGE}`);
    }
  }
  return o;
}
