// `graft doctor`: which adapter Graft got and how, its limits, and whether every kernel compiles.
import { graft } from '../graph/gpu.ts';
import { families } from '../kernels/index.ts';
import { tuningLocation } from '../kernels/tune/index.ts';
import { type CommandSpec, runCommand } from './command.ts';
import { type Io, processIo, stepBar } from './shared.ts';

export const DOCTOR: CommandSpec = {
  name: 'doctor',
  summary: 'The WebGPU adapter Graft gets (and how), its features and limits, and a compile check of every kernel.',
  positionals: '',
  options: {
    json: { type: 'boolean', description: 'print JSON instead of text (no progress bar)' },
    swiftshader: { type: 'boolean', description: "use Dawn's SwiftShader CPU adapter even when a GPU is present" },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bar' },
  },
};

export function doctor(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand(DOCTOR, argv, async ({ flags }) => {
    const gpu = await graft({ forceSwiftShader: flags.swiftshader });
    try {
      const a = gpu.adapter;
      const kernels: { family: string; name: string; ok: boolean; skipped?: string; error?: string }[] = [];
      const all = Object.entries(families).flatMap(([family, list]) => list.map((k) => ({ family, k })));
      const bar = stepBar('compiling kernels', flags.quiet || flags.json);
      for (const [i, { family, k }] of all.entries()) {
        bar.update(i, all.length, `${i}/${all.length} ${k.name}`);
        const missing = gpu.rt.missingFeatures(k);
        if (missing.length) {
          kernels.push({ family, name: k.name, ok: true, skipped: `needs ${missing.join(', ')}; another variant is used` });
          continue;
        }
        const error = await gpu.rt.compileCheck(k);
        kernels.push({ family, name: k.name, ok: !error, ...(error ? { error } : {}) });
      }
      bar.end();
      const failed = kernels.filter((k) => !k.ok);
      if (flags.json) {
        io.out(JSON.stringify({ adapter: a, kernels }, null, 2) + '\n');
      } else {
        const out: string[] = [];
        out.push(`adapter:      ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || '(no info)'}${a.isCpu ? '  [CPU]' : ''}`);
        out.push(`runtime:      ${a.runtime === 'dawn' ? 'Node, Dawn' : 'browser, navigator.gpu'} — ${a.via}`);
        out.push(`features:     ${a.features.join(', ') || '(none)'}`);
        out.push('limits:');
        for (const [k, v] of Object.entries(a.limits)) out.push(`  ${k.padEnd(36)} ${v.toLocaleString('en-US')}`);
        const tuner = gpu.rt.tuner;
        out.push(`tuning:       ${tuner.policy}${tuner.policy === 'off' ? '' : `, ${tuner.choices.size} measured choice(s) in ${tuningLocation(gpu.rt)} (graft tune measures more)`}`);
        out.push(`kernels:      ${kernels.length - failed.length}/${kernels.length} compiled`);
        for (const k of kernels) out.push(`  ${k.skipped ? 'skip' : k.ok ? 'ok  ' : 'FAIL'} ${k.name}${k.error ? `: ${k.error}` : ''}${k.skipped ? ` (${k.skipped})` : ''}`);
        io.out(out.join('\n') + '\n');
      }
      return failed.length ? 1 : 0;
    } finally {
      gpu.destroy();
    }
  }, io);
}
