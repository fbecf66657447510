// The demo's speed panel: a few workloads timed in the visitor's browser, Graft next to TF.js on its
// webgpu backend (loaded only when the panel runs). Each time is the median of a few runs, reading
// the result back to the CPU (so that both have finished), after one warm-up run.
import { type Gpu, ops, scope } from 'graft-webgpu';

interface Workload {
  name: string;
  graft(gpu: Gpu): Promise<void>;
  tfjs(tf: typeof import('@tensorflow/tfjs-core')): Promise<void>;
}

function workloads(small: boolean): Workload[] {
  const n = small ? 256 : 1024;
  const [c, h, k] = small ? [16, 32, 32] : [64, 56, 128];
  const batch = small ? 8 : 32;
  return [
    {
      name: `matmul ${n}x${n}x${n}`,
      graft: (gpu) => scope(async () => void (await ops.matmul(gpu.randn([n, n], { seed: 1 }), gpu.randn([n, n], { seed: 2 })).data())),
      tfjs: async (tf) => {
        const y = tf.tidy(() => tf.matMul(tf.randomNormal([n, n]), tf.randomNormal([n, n])));
        await y.data();
        y.dispose();
      },
    },
    {
      name: `conv2d 3x3, ${c}→${k} channels, ${h}x${h}, batch ${batch}`,
      graft: (gpu) => scope(async () => void (await ops.conv2d(gpu.randn([batch, c, h, h], { seed: 1 }), gpu.randn([k, c, 3, 3], { seed: 2, std: 0.1 }), null, { padding: 1 }).data())),
      tfjs: async (tf) => {
        const y = tf.tidy(() => tf.conv2d(tf.randomNormal([batch, h, h, c]) as import('@tensorflow/tfjs-core').Tensor4D, tf.randomNormal([3, 3, c, k]) as import('@tensorflow/tfjs-core').Tensor4D, 1, 'same'));
        await y.data();
        y.dispose();
      },
    },
    {
      name: `softmax ${batch * 64} rows x 1000`,
      graft: (gpu) => scope(async () => void (await ops.softmax(gpu.randn([batch * 64, 1000], { seed: 3 })).data())),
      tfjs: async (tf) => {
        const y = tf.tidy(() => tf.softmax(tf.randomNormal([batch * 64, 1000])));
        await y.data();
        y.dispose();
      },
    },
  ];
}

async function median(run: () => Promise<void>, reps: number): Promise<number> {
  await run(); // warm-up: pipelines compiled, buffers allocated
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export async function runSpeed(gpu: Gpu, { small, table, status }: { small: boolean; table: HTMLElement; status: HTMLElement }): Promise<void> {
  const body = table.querySelector('tbody')!;
  body.innerHTML = '';
  status.textContent = 'loading TF.js…';
  const tf = await import('@tensorflow/tfjs-core');
  let tfReady = false;
  try {
    await import('@tensorflow/tfjs-backend-webgpu');
    tfReady = await tf.setBackend('webgpu');
    await tf.ready();
  } catch (e) {
    status.textContent = `TF.js webgpu is not available here (${(e as Error).message}); Graft alone`;
  }
  const reps = small ? 3 : 10;
  for (const w of workloads(small)) {
    status.textContent = `running ${w.name}…`;
    const row = document.createElement('tr');
    row.innerHTML = `<td style="text-align:left"></td><td class="graft-ms">…</td><td class="tfjs-ms">…</td>`;
    row.cells[0].textContent = w.name;
    body.append(row);
    row.cells[1].textContent = (await median(() => w.graft(gpu), reps)).toFixed(1);
    row.cells[2].textContent = tfReady ? (await median(() => w.tfjs(tf), reps)).toFixed(1) : 'n/a';
  }
  status.textContent = `done (median of ${reps} runs after a warm-up, result read back each time)`;
}
