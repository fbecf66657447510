// `graft doctor`: which adapter Graft got and how, its limits, and whether every kernel compiles.
import { graft } from '../graph/gpu.ts';
import { families } from '../kernels/index.ts';

export async function doctor(args: string[]): Promise<number> {
  const json = args.includes('--json');
  let gpu;
  try {
    gpu = await graft({ forceSwiftShader: args.includes('--swiftshader') });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
  const a = gpu.adapter;
  const kernels: { family: string; name: string; ok: boolean; skipped?: string; error?: string }[] = [];
  for (const [family, list] of Object.entries(families)) {
    for (const k of list) {
      const missing = gpu.rt.missingFeatures(k);
      if (missing.length) {
        kernels.push({ family, name: k.name, ok: true, skipped: `needs ${missing.join(', ')}; another variant is used` });
        continue;
      }
      const error = await gpu.rt.compileCheck(k);
      kernels.push({ family, name: k.name, ok: !error, ...(error ? { error } : {}) });
    }
  }
  const failed = kernels.filter((k) => !k.ok);
  if (json) {
    process.stdout.write(JSON.stringify({ adapter: a, kernels }, null, 2) + '\n');
  } else {
    const out: string[] = [];
    out.push(`adapter:      ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || '(no info)'}${a.isCpu ? '  [CPU]' : ''}`);
    out.push(`runtime:      ${a.runtime === 'dawn' ? 'Node, Dawn' : 'browser, navigator.gpu'} — ${a.via}`);
    out.push(`features:     ${a.features.join(', ') || '(none)'}`);
    out.push('limits:');
    for (const [k, v] of Object.entries(a.limits)) out.push(`  ${k.padEnd(36)} ${v.toLocaleString('en-US')}`);
    out.push(`kernels:      ${kernels.length - failed.length}/${kernels.length} compiled`);
    for (const k of kernels) out.push(`  ${k.skipped ? 'skip' : k.ok ? 'ok  ' : 'FAIL'} ${k.name}${k.error ? `: ${k.error}` : ''}${k.skipped ? ` (${k.skipped})` : ''}`);
    process.stdout.write(out.join('\n') + '\n');
  }
  gpu.destroy();
  return failed.length ? 1 : 0;
}
