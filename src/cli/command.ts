// How every `graft` command reads its arguments: one declarative option table per command, parsed
// by node:util parseArgs (strict), with `--help`/`-h` generated from the same table (so the stated
// defaults are the real ones). A usage mistake (unknown flag, missing value, bad number) is one line
// on stderr and exit code 2; any other failure one line and exit code 1; GRAFT_DEBUG=1 adds the stack.
import { parseArgs } from 'node:util';
import { GraftError } from '../core/index.ts';
import { type Io, oneLine, processIo } from './shared.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** One-letter alias (`-k`). */
  short?: string;
  /** The value used when the option is not given (shown in --help). */
  default?: string;
  /** The value's placeholder in --help (`<file>`). */
  value?: string;
  description: string;
}

export interface CommandSpec {
  name: string;
  /** One line: what the command does. */
  summary: string;
  /** The positional part of the usage line (`<file>`), '' for none. */
  positionals: string;
  /** How many positionals are allowed. */
  minPositionals?: number;
  maxPositionals?: number;
  options: Record<string, OptionSpec>;
  /** Extra lines after the options (examples, notes). */
  notes?: string;
}

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends GraftError {}

export interface Parsed {
  /** Every string option (with its default when it has one). */
  values: Record<string, string | undefined>;
  flags: Record<string, boolean>;
  positionals: string[];
}

const COMMON: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', description: 'show this help and exit' },
};

export function helpText(spec: CommandSpec): string {
  const options = { ...spec.options, ...COMMON };
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? '<value>'}` : ''}`;
    return [flag, `${o.description}${o.default !== undefined ? ` (default: ${o.default})` : ''}`];
  });
  const width = Math.max(...rows.map((r) => r[0].length));
  return [
    `usage: graft ${spec.name}${spec.positionals ? ` ${spec.positionals}` : ''} [options]`,
    '',
    spec.summary,
    '',
    'options:',
    ...rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`),
    ...(spec.notes ? ['', spec.notes] : []),
    '',
  ].join('\n');
}

/** node:util parseArgs' error as one line of ours. */
function usageMessage(e: { code?: string; message: string }): string {
  const m = e.message;
  const opt = /'(?:-\w, )?(-{1,2}[^' ]+)/.exec(m)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${opt ?? m}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing|ambiguous/.test(m)) return `option '${opt}' needs a value`;
      return `option '${opt}' takes no value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'([^']*)'/.exec(m)?.[0] ?? ''}`.trim();
    default:
      return m.split('\n')[0];
  }
}

export function parseCommand(spec: CommandSpec, argv: string[]): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of Object.entries({ ...spec.options, ...COMMON })) options[name] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(usageMessage(e as { code?: string; message: string }));
  }
  const values: Record<string, string | undefined> = {};
  const flags: Record<string, boolean> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const v = (parsed.values as Record<string, string | boolean | undefined>)[name];
    if (o.type === 'boolean') flags[name] = v === true;
    else {
      if (v === '') throw new UsageError(`option '--${name}' needs a value`);
      values[name] = (v as string | undefined) ?? o.default;
    }
  }
  flags.help = parsed.values.help === true;
  const positionals = parsed.positionals;
  const min = spec.minPositionals ?? 0;
  const max = spec.maxPositionals ?? 0;
  if (!flags.help) {
    if (positionals.length > max) throw new UsageError(max === 0 ? `unexpected argument '${positionals[0]}'` : `unexpected argument '${positionals[max]}' (at most ${max})`);
    if (positionals.length < min) throw new UsageError(`needs ${spec.positionals}`);
  }
  return { values, flags, positionals };
}

/**
 * Parse, answer --help, run. `body` returns the exit code; what it throws becomes one line on
 * stderr (exit 2 for a UsageError, else 1).
 */
export async function runCommand(spec: CommandSpec, argv: string[], body: (a: Parsed) => Promise<number>, io: Io = processIo): Promise<number> {
  const fail = (e: unknown, code: number) => {
    io.err(`graft ${spec.name}: ${oneLine(e)}${code === 2 ? ` (graft ${spec.name} --help lists the options)` : ''}\n`);
    return code;
  };
  let parsed: Parsed;
  try {
    parsed = parseCommand(spec, argv);
  } catch (e) {
    return fail(e, 2);
  }
  if (parsed.flags.help) {
    io.out(helpText(spec));
    return 0;
  }
  try {
    return await body(parsed);
  } catch (e) {
    return fail(e, e instanceof UsageError ? 2 : 1);
  }
}

// ---- values ----------------------------------------------------------------------------------

export function positiveInt(value: string | undefined, name: string): number;
export function positiveInt(value: string | undefined, name: string, fallback: number): number;
export function positiveInt(value: string | undefined, name: string, fallback?: number): number {
  if (value === undefined) return fallback!;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got '${value}'`);
  return n;
}

export function nonNegativeInt(value: string | undefined, name: string, fallback?: number): number {
  if (value === undefined) return fallback!;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be an integer >= 0, got '${value}'`);
  return n;
}

export function positiveNumber(value: string | undefined, name: string, fallback?: number): number {
  if (value === undefined) return fallback!;
  const n = Number(value);
  if (!(n > 0 && Number.isFinite(n))) throw new UsageError(`--${name} must be a positive number, got '${value}'`);
  return n;
}

/** One of a fixed list. */
export function oneOf<T extends string>(value: string | undefined, name: string, allowed: readonly T[], what = 'known'): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`unknown --${name} '${value}' (${what}: ${allowed.join(', ')})`);
  return value as T;
}
