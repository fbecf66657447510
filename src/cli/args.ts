// Small helpers shared by the weight commands: `--name value` / `--name=value` options, boolean
// flags, and a one-line progress display on stderr.
import { GraftError } from '../core/index.ts';
import type { ProgressCallback } from '../io/source.ts';

export interface ParsedArgs {
  positional: string[];
  options: Record<string, string>;
  flags: Record<string, boolean>;
}

export function parseArgs(argv: string[], valued: string[], boolean: string[]): ParsedArgs {
  const out: ParsedArgs = { positional: [], options: {}, flags: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      out.positional.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
    if (valued.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new GraftError(`--${name} needs a value`);
      out.options[name] = value;
    } else if (boolean.includes(name)) out.flags[name] = true;
    else throw new GraftError(`unknown option --${name} (options: ${[...valued, ...boolean].map((n) => `--${n}`).join(', ')})`);
  }
  return out;
}

/** Progress on stderr, redrawn in place on a terminal; nothing when stderr is not a terminal. */
export function progressPrinter(enabled = true): ProgressCallback | undefined {
  if (!enabled || !process.stderr.isTTY) return undefined;
  let last = -1;
  return (fraction, info) => {
    const percent = Math.floor(fraction * 100);
    if (percent === last && fraction < 1) return;
    last = percent;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const bar = '#'.repeat(Math.round(fraction * 30)).padEnd(30, '.');
    const size = info.total ? `${mb(info.loaded)}/${mb(info.total)} MB` : `${mb(info.loaded)} MB`;
    process.stderr.write(`\r[${bar}] ${String(percent).padStart(3)}% ${size}${info.fromCache ? ' (cache)' : ''}${fraction >= 1 ? '\n' : ''}`);
  };
}
