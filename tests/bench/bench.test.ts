// The benchmark suite's own pieces that decide what it reports: the layout transposes between
// Graft and tfjs, the output comparison, the timing statistics, the option parser, the ratios,
// and the torchvision state-dict lists the tfjs twins are built from.
import { describe, expect, it } from 'vitest';
import { compareOutputs, hwioToOihw, nchwToNhwc, nhwcToNchw, oihwToHwio } from '../../bench/data.ts';
import { FAST_MAX_REPS, anotherFastRun, measure, spread } from '../../bench/harness.ts';
import { parseArgs, passesFilter } from '../../bench/options.ts';
import { ortContender, ortUnavailable } from '../../bench/ort.ts';
import type { Platform } from '../../bench/contenders.ts';
import { isUnavailable } from '../../bench/workload.ts';
import { type BenchResults, geomean, ratio } from '../../bench/report/results.ts';
import { markdownTable } from '../../bench/report/table.ts';
import type { WorkloadResult } from '../../bench/suite.ts';
import { buildWorkloads } from '../../bench/workloads/index.ts';
import { forwardFlops, modelLayers, trainStepFlops } from '../../bench/workloads/model-flops.ts';
import { forwardCases } from '../../bench/workloads/models.ts';
import { stateDictShapes } from '../../bench/workloads/nets.ts';

const iota = (n: number) => Float32Array.from({ length: n }, (_, i) => i);

describe('bench layouts', () => {
  it('NCHW -> NHWC moves element (n, c, h, w) to ((n*H + h)*W + w)*C + c, and back', () => {
    const shape = [2, 3, 4, 5];
    const [, C, H, W] = shape;
    const x = iota(120);
    const y = nchwToNhwc(x, shape);
    // (n=1, c=2, h=3, w=4): NCHW index 1*60 + 2*20 + 3*5 + 4 = 119; NHWC index ((1*4 + 3)*5 + 4)*3 + 2 = 119.
    expect(y[((1 * H + 3) * W + 4) * C + 2]).toBe(119);
    // (n=0, c=1, h=0, w=0): NCHW 20 -> NHWC 1.
    expect(y[1]).toBe(20);
    expect(Array.from(nhwcToNchw(y, shape))).toEqual(Array.from(x));
  });

  it('OIHW -> HWIO moves weight (o, i, y, x) to ((y*kW + x)*I + i)*O + o, and back', () => {
    const shape = [4, 3, 2, 2];
    const w = iota(48);
    const t = oihwToHwio(w, shape);
    // (o=3, i=1, y=1, x=0): OIHW 3*12 + 1*4 + 1*2 + 0 = 42; HWIO ((1*2 + 0)*3 + 1)*4 + 3 = 31.
    expect(t[31]).toBe(42);
    expect(Array.from(hwioToOihw(t, shape))).toEqual(Array.from(w));
  });
});

describe('bench output comparison', () => {
  it('reports the largest absolute difference and that difference over the reference scale', () => {
    const d = compareOutputs([[1, 2, 3.5], [10]], [[1, 2, 4], [10.1]]);
    expect(d.maxAbs).toBeCloseTo(0.5, 6);
    // output 0: 0.5 / 4; output 1: 0.1 / 10.1: the worst is 0.125.
    expect(d.maxRel).toBeCloseTo(0.125, 6);
    expect(d.problem).toBe(undefined);
  });

  it('flags non-finite values and mismatched lengths', () => {
    expect(compareOutputs([[NaN]], [[1]]).problem).toMatch(/element 0/);
    expect(compareOutputs([[1, 2]], [[1]]).problem).toMatch(/2 values vs 1/);
    expect(compareOutputs([[1]], [[1], [2]]).problem).toMatch(/1 outputs vs 2/);
  });
});

describe('bench statistics and ratios', () => {
  it('median, quartiles and extremes of the timed runs', () => {
    const s = spread([5, 1, 4, 2, 3]);
    expect([s.median, s.q1, s.q3, s.min, s.max, s.n]).toEqual([3, 2, 4, 1, 5, 5]);
    expect(spread([4, 1, 3, 2]).median).toBe(2.5);
  });

  it('a fast case gets another timed run while all of them still fit in half a second, up to the cap', () => {
    expect(anotherFastRun([])).toBe(false);
    expect(anotherFastRun([5, 5, 5])).toBe(true);
    expect(anotherFastRun([150, 150, 150])).toBe(false); // 450 + 150 > 500
    expect(anotherFastRun([100, 100, 100])).toBe(true); // 300 + 100 <= 500
    expect(anotherFastRun(Array.from({ length: FAST_MAX_REPS }, () => 1))).toBe(false);
  });

  it('measure runs a fast case that many times, and a case near its budget fewer', async () => {
    let runs = 0;
    const instance = (ms: number) => ({
      run: async () => { runs++; await new Promise((r) => (ms ? setTimeout(r, ms) : r(null))); return [[1]]; },
      dispose: () => {},
    });
    // The memory probe is a run, as every contender's is.
    const peak = async (inst: { run: () => Promise<unknown> }) => { await inst.run(); return null; };
    const fast = await measure(instance(0), { warmup: 1, reps: 3, compiles: false, budgetMs: 10_000 }, null, peak);
    expect(fast.timing.samplesMs.length).toBe(FAST_MAX_REPS);
    expect(fast.timing.repsCut).toBe(undefined);
    runs = 0;
    // ~40 ms a run, a 200 ms budget: the first run and the probe leave room for about 3.
    const tight = await measure(instance(40), { warmup: 1, reps: 10, compiles: false, budgetMs: 200 }, null, peak);
    expect(tight.timing.samplesMs.length).toBeLessThan(10);
    expect(tight.timing.repsCut).toEqual({ asked: 10, ran: tight.timing.samplesMs.length });
    expect(runs).toBe(tight.timing.samplesMs.length + 2);
    // A slow case gets what was asked.
    const slow = await measure(instance(200), { warmup: 1, reps: 2, compiles: false, budgetMs: 10_000 }, null, peak);
    expect(slow.timing.samplesMs.length).toBe(2);
  });

  it('ratio is tfjs median over Graft median, and needs timed runs on both sides', () => {
    const ok = (median: number, ran?: number) => ({
      status: 'ok' as const, firstMs: median, warmupMs: [], samplesMs: [median], wall: spread([median]), gpu: null, peakBytes: null,
      ...(ran === undefined ? {} : { repsCut: { asked: 3, ran } }),
    });
    const w = { cases: { graft: ok(10), 'tfjs-cpu': ok(25), 'tfjs-wasm': ok(5, 0) } } as unknown as WorkloadResult;
    expect(ratio(w, 'tfjs-cpu')).toBe(2.5);
    expect(ratio(w, 'tfjs-wasm')).toBeNull(); // a first run alone (compilation included) is not compared
    expect(ratio(w, 'tfjs-webgpu')).toBeNull();
    expect(geomean([2, 8])).toBeCloseTo(4, 9);
  });

  it('the tables give the ORT providers their columns, ratios and geometric means when a run asked for them', () => {
    const ok = (median: number) => ({ status: 'ok' as const, firstMs: median, warmupMs: [], samplesMs: [median], wall: spread([median]), gpu: null, peakBytes: null });
    const w = {
      id: 'model.fwd/resnet18-b1-48', family: 'model', title: 'resnet18 forward (eval) 1x3x48x48', flops: null, tolerance: 1e-3, outputs: 'logits',
      cases: { graft: ok(100), 'tfjs-wasm': ok(50), 'ort-webgpu': ok(400), 'ort-wasm': { status: 'n/a', reason: 'ONNX export skipped: no torch' } },
      checks: { 'tfjs-wasm': { maxAbs: 1e-7, maxRel: 2e-7, ok: true }, 'ort-webgpu': { maxAbs: 1e-7, maxRel: 3e-7, ok: true } },
      verdict: 'pass',
    } as unknown as WorkloadResult;
    const run = (contenders: string[]) => ({
      info: { runner: 'chrome', options: { ...parseArgs(['--quick']), contenders }, contenders: [], unavailable: [], startedAt: '', userAgent: '' },
      machine: { cpu: 'cpu', cores: 2, memoryGiB: 8, os: 'os', node: 'v20', loadStart: 1, loadEnd: 2 },
      workloads: [w],
      totalMs: 1,
    }) as unknown as BenchResults;
    const md = markdownTable(run(['graft', 'tfjs-wasm', 'ort-webgpu', 'ort-wasm']));
    expect(md.split('\n')[0]).toBe('| workload | Graft ms | GFLOP/s | tfjs wasm ms | x | ort webgpu ms | x | ort wasm ms | x | max rel diff |');
    expect(md.split('\n')[2]).toBe('| resnet18 forward (eval) 1x3x48x48 | 100 | — | 50.0 | 0.50x | 400 | 4.0x | n/a [1] | — | 3.0e-7 ok |');
    expect(md).toContain('model     tfjs wasm 0.50x (1)   ort webgpu 4.0x (1)');
    expect(md).toContain('[1] ONNX export skipped: no torch');
    // A run that did not ask for ORT (every saved run before it existed) has no ORT column.
    expect(markdownTable(run(['graft', 'tfjs-wasm'])).split('\n')[0]).toBe('| workload | Graft ms | GFLOP/s | tfjs wasm ms | x | max rel diff |');
  });
});

describe('bench options', () => {
  it('--quick --node with a filter, repetitions and contenders', () => {
    const o = parseArgs(['--quick', '--node', '--filter', 'conv2d,resnet18', '--reps', '5', '--contenders', 'graft,tfjs-cpu']);
    expect(o.runner).toBe('node');
    expect(o.preset).toBe('quick');
    expect(o.filter).toEqual(['conv2d', 'resnet18']);
    expect(o.reps).toBe(5);
    expect(o.contenders).toEqual(['graft', 'tfjs-cpu']);
    expect(parseArgs([]).runner).toBe('chrome');
    expect(parseArgs([]).preset).toBe('full');
  });

  it('--models: only the full-size model rows of issue 11 (forward b1 224, SGD steps b8 112)', async () => {
    const o = parseArgs(['--models', '--node']);
    expect(o.preset).toBe('models');
    const ids = (await buildWorkloads(o)).map((w) => w.id);
    expect(ids).toEqual([
      'model.fwd/resnet18-b1-224',
      'model.fwd/resnet50-b1-224',
      'model.fwd/vgg16-b1-224',
      'train.step/resnet18-all-b8-112',
      'train.step/resnet18-layer4fc-b8-112',
    ]);
  });

  it('ONNX Runtime Web contenders: ort-webgpu and ort-wasm, asked for by name or by default', () => {
    expect(parseArgs(['--contenders', 'graft,ort-webgpu,ort-wasm']).contenders).toEqual(['graft', 'ort-webgpu', 'ort-wasm']);
    expect(parseArgs([]).contenders).toEqual(['graft', 'tfjs-webgpu', 'tfjs-wasm', 'tfjs-cpu', 'ort-webgpu', 'ort-wasm']);
    expect(() => parseArgs(['--contenders', 'graft,ort-webgl'])).toThrow(/unknown contender\(s\) ort-webgl; choose from .*ort-webgpu, ort-wasm/);
  });

  it('the ONNX files are made for exactly the model forward rows the run has (after --filter)', async () => {
    for (const args of [['--quick'], ['--models'], ['--quick', '--vgg-classifier', 'on', '--model-batches', '1,3']]) {
      const o = parseArgs(args);
      const rows = (await buildWorkloads(o)).filter((w) => w.onnx);
      expect(forwardCases(o).map((c) => [c.id, c.title]), args.join(' ')).toEqual(rows.map((w) => [w.id, w.title]));
      // Every forward row (and nothing else) feeds ORT its NCHW input.
      expect(rows.map((w) => w.id)).toEqual((await buildWorkloads(o)).filter((w) => w.id.startsWith('model.fwd/')).map((w) => w.id));
    }
    expect(forwardCases(parseArgs(['--quick'])).map((c) => `${c.arch} b${c.batch} ${c.size} ${c.featuresOnly}`)).toEqual(['resnet18 b1 48 false', 'resnet18 b2 48 false', 'resnet50 b1 32 false', 'vgg16 b1 32 true']);
    expect(passesFilter([], 'model.fwd/vgg16-b1-224', 'x')).toBe(true);
    expect(passesFilter(['resnet'], 'model.fwd/vgg16-b1-224', 'vgg16 forward')).toBe(false);
    expect(passesFilter(['forward (eval) 1x'], 'model.fwd/vgg16-b1-224', 'vgg16 forward (eval) 1x3x224x224')).toBe(true);
  });

  it('ORT runs the model inference rows only, and says why a row has no file', async () => {
    const [conv] = await buildWorkloads(parseArgs(['--quick', '--filter', 'conv2d']));
    const fwd = (await buildWorkloads(parseArgs(['--quick']))).find((w) => w.id === 'model.fwd/resnet18-b1-48')!;
    expect(fwd.onnx?.shape).toEqual([1, 3, 48, 48]);
    expect(ortUnavailable(conv, { file: 'x.onnx' })).toMatch(/benchmarked on model inference only/);
    expect(ortUnavailable(fwd, undefined)).toMatch(/no ONNX file for this row/);
    expect(ortUnavailable(fwd, { unavailable: 'ONNX export skipped: no torch' })).toBe('ONNX export skipped: no torch');
    expect(ortUnavailable(fwd, { file: 'bench/results/cache/onnx/a.onnx' })).toBeNull();
    // An export that failed is not "n/a": the contender reports it as an error when it prepares the row.
    expect(ortUnavailable(fwd, { error: 'export_onnx.py failed: boom' })).toBeNull();
  });

  it('rejects unknown options, contenders and bad numbers with the reason', () => {
    expect(() => parseArgs(['--fast'])).toThrow(/unknown option '--fast'/);
    expect(() => parseArgs(['--contenders', 'graft,onnx'])).toThrow(/unknown contender\(s\) onnx/);
    expect(() => parseArgs(['--reps', 'zero'])).toThrow(/--reps expects a number >= 1, got zero/);
  });
});

describe('model FLOPs from the shapes', () => {
  // torchvision's documented GFLOPS (multiply-adds, conv + linear) at 1x3x224x224: 1.81, 4.09, 15.47.
  it('forward: 2 x the multiply-adds torchvision documents, and linear in the batch', () => {
    for (const [arch, gmacs] of [['resnet18', 1.81], ['resnet50', 4.09], ['vgg16', 15.47]] as const) {
      expect(forwardFlops(arch, 1, 224) / 2e9, arch).toBeCloseTo(gmacs, 1);
      expect(forwardFlops(arch, 8, 224)).toBe(8 * forwardFlops(arch, 1, 224));
    }
    // Without the classifier: vgg16's three linear layers are 123.6M multiply-adds.
    expect((forwardFlops('vgg16', 1, 224) - forwardFlops('vgg16', 1, 224, false)) / 2).toBe(25088 * 4096 + 4096 * 4096 + 4096 * 1000);
  });

  it('a training step: forward + weight and input gradients of the trainable layers', () => {
    const fwd = forwardFlops('resnet18', 8, 112);
    // Nothing trainable: the forward alone. Everything: 3x, less conv1's input gradient.
    expect(trainStepFlops('resnet18', 8, 112, () => false, () => false)).toBe(fwd);
    const conv1 = modelLayers('resnet18', 8, 112)[0];
    expect(conv1.name).toBe('conv1');
    expect(trainStepFlops('resnet18', 8, 112, () => true, (n) => n === 'conv1')).toBe(3 * fwd - conv1.flops);
  });
});

describe('bench twins of the torchvision networks', () => {
  // torchvision 0.14: len(model.state_dict()) and the sum of numel over it (a counter is 1 element).
  const TORCHVISION = { resnet18: [122, 11_699_132], resnet50: [320, 25_610_205], vgg16: [32, 138_357_544] } as const;
  for (const [arch, [keys, numel]] of Object.entries(TORCHVISION)) {
    it(`${arch}: as many state-dict keys and values as torchvision`, () => {
      const shapes = stateDictShapes(arch as keyof typeof TORCHVISION);
      expect(shapes.size).toBe(keys);
      let total = 0;
      for (const s of shapes.values()) total += s.reduce((a, b) => a * b, 1);
      expect(total).toBe(numel);
    });
  }
});

describe('the ORT contender (a stand-in onnxruntime-web module: no wasm, no ONNX file)', () => {
  // What the contender does with ORT's API: settings, one session per row on the file's bytes,
  // input `x` with the row's shape, output `y` read back; the session released with the case.
  const log: string[] = [];
  class Tensor {
    constructor(readonly type: string, readonly data: Float32Array, readonly dims: number[]) {}
    async getData() {
      return this.data;
    }
    dispose() {}
  }
  const fakeOrt = {
    env: { wasm: {} as Record<string, unknown>, webgpu: {}, versions: { web: '9.9.9' }, logLevel: 'warning' },
    Tensor,
    InferenceSession: {
      create: async (bytes: Uint8Array, o: { executionProviders: string[] }) => {
        log.push(`create ${bytes.length} bytes on ${o.executionProviders.join()}`);
        return {
          run: async (feeds: { x: Tensor }) => {
            log.push(`run x [${feeds.x.dims.join(',')}]`);
            return { y: new Tensor('float32', feeds.x.data.map((v) => 2 * v), [1, feeds.x.data.length]) };
          },
          release: async () => void log.push('release'),
        };
      },
    },
  };
  const platform = {
    runner: 'chrome', wasmPath: '', ortWasmPath: '/ort/', ortWebGpu: true,
    provideWebGpu: async () => null,
    importOrt: async () => fakeOrt,
    readOnnx: async (file: string) => (log.push(`read ${file}`), new Uint8Array(7)),
  } as unknown as Platform;

  it('runs a model row on its file, one thread, n/a elsewhere, and its memory probe is a run like every contender\'s', async () => {
    const o = parseArgs(['--quick', '--filter', 'resnet18-b1,conv2d.fwd']);
    const ws = await buildWorkloads(o);
    const fwd = ws.find((w) => w.id === 'model.fwd/resnet18-b1-48')!;
    const conv = ws.find((w) => w.family === 'conv2d')!;
    const c = await ortContender('wasm', platform, { [fwd.id]: { file: 'bench/results/cache/onnx/r.onnx' } });
    expect(c.id).toBe('ort-wasm');
    expect([fakeOrt.env.wasm.numThreads, fakeOrt.env.wasm.wasmPaths, fakeOrt.env.wasm.proxy]).toEqual([1, '/ort/', false]);
    expect(await c.prepare(conv)).toEqual({ unavailable: 'ONNX Runtime Web is benchmarked on model inference only' });
    const inst = await c.prepare(fwd);
    if (isUnavailable(inst)) throw new Error(inst.unavailable);
    const [y] = await inst.run();
    const x = fwd.onnx!.input();
    expect(y.length).toBe(3 * 48 * 48);
    expect([y[0], y[100]]).toEqual([2 * x[0], 2 * x[100]]);
    expect(await c.peakBytes(inst)).toBeNull();
    inst.dispose();
    expect(log).toEqual(['read bench/results/cache/onnx/r.onnx', 'create 7 bytes on wasm', 'run x [1,3,48,48]', 'run x [1,3,48,48]', 'release']);
    // A failed export is an error of the row, not n/a.
    const failing = await ortContender('wasm', platform, { [fwd.id]: { error: 'export_onnx.py failed: boom' } });
    await expect(failing.prepare(fwd)).rejects.toThrow('export_onnx.py failed: boom');
    fwd.release?.();
  });
});
