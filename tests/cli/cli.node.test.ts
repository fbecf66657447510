// Every `graft` command: --help and -h list every option with its default and exit 0; a missing
// value, an unknown flag or a bad number is one line on stderr and exit 2, never a stack trace.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLASSIFY } from '../../src/cli/classify.ts';
import type { CommandSpec } from '../../src/cli/command.ts';
import { CONVERT } from '../../src/cli/convert.ts';
import { DOCTOR } from '../../src/cli/doctor.ts';
import { FINETUNE } from '../../src/cli/finetune.ts';
import { INSPECT } from '../../src/cli/inspect.ts';
import { MAIN_JOB, MAIN_JOB_DEFAULTS } from '../../src/cli/main-job.ts';
import { PROFILE } from '../../src/cli/profile.ts';
import { TUNE } from '../../src/cli/tune.ts';
import { runCli } from './run.ts';

const run = runCli;

const SPECS: CommandSpec[] = [DOCTOR, CONVERT, INSPECT, CLASSIFY, FINETUNE, MAIN_JOB, TUNE, PROFILE];
/** A string option of each command, to leave without its value. */
const VALUED: Record<string, string> = { doctor: '', convert: '--arch', inspect: '--arch', classify: '--model', finetune: '--model', 'main-job': '--epochs', tune: '--model', profile: '--model' };

const oneLineNoStack = (err: string) => {
  expect(err.trim().split('\n')).toHaveLength(1);
  expect(err).not.toMatch(/\n\s+at /);
};

describe('graft CLI', () => {
  for (const spec of SPECS) {
    describe(spec.name, () => {
      it('--help and -h print the usage and every option (with its default), exit 0', async () => {
        for (const flag of ['--help', '-h']) {
          const r = await run([spec.name, flag]);
          expect(r.code).toBe(0);
          expect(r.err).toBe('');
          expect(r.out).toMatch(new RegExp(`^usage: graft ${spec.name} `));
          for (const [name, o] of Object.entries(spec.options)) {
            expect(r.out).toContain(`--${name}`);
            if (o.default !== undefined) expect(r.out).toMatch(new RegExp(`--${name} .*\\(default: ${o.default.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`));
          }
          expect(r.out).toContain('-h, --help');
        }
      });

      it('an unknown flag: one line, exit 2', async () => {
        const r = await run([spec.name, '--no-such-flag']);
        expect(r.code).toBe(2);
        expect(r.err).toMatch(new RegExp(`^graft ${spec.name}: unknown option '--no-such-flag'`));
        oneLineNoStack(r.err);
      });

      if (VALUED[spec.name]) {
        it(`a missing value (${VALUED[spec.name]} last): one line, exit 2`, async () => {
          const r = await run([spec.name, 'x', 'y', VALUED[spec.name]]);
          expect(r.code).toBe(2);
          expect(r.err).toMatch(new RegExp(`^graft ${spec.name}: option '${VALUED[spec.name]}' needs a value`));
          oneLineNoStack(r.err);
        });
      }
    });
  }

  it('main-job --help states the real defaults (patience, epochs, folds)', async () => {
    const r = await run(['main-job', '--help']);
    expect(r.out).toMatch(new RegExp(`--patience <epochs> .*\\(default: ${MAIN_JOB_DEFAULTS.patience}\\)`));
    expect(r.out).toMatch(new RegExp(`--epochs <n> .*\\(default: ${MAIN_JOB_DEFAULTS.epochs}\\)`));
    expect(MAIN_JOB_DEFAULTS.patience).toBe(2);
  });

  it('inspect -h is the help, not a file named -h; inspect x --arch (no value) does not crash', async () => {
    const h = await run(['inspect', '-h']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^usage: graft inspect/);
    const r = await run(['inspect', 'x', '--arch']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^graft inspect: option '--arch' needs a value/);
  });

  it('bad values and unknown names: one line, exit 2', async () => {
    let r = await run(['classify', '--model', 'resnet50', '--weights', 'w', '--top', '0', 'a.png']);
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/^graft classify: --top must be a positive integer, got '0'/)]);
    r = await run(['inspect', '--arch', 'resnet7']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^graft inspect: unknown --arch 'resnet7' \(known: vgg11, .*darknet-tiny\)/);
    oneLineNoStack(r.err);
    r = await run(['convert', 'only-one']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^graft convert: needs <input> <out\.safetensors>/);
    r = await run(['doctor', 'extra']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^graft doctor: unexpected argument 'extra'/);
    r = await run(['tune', '--image', '0']);
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/^graft tune: --image must be a positive integer, got '0'/)]);
    r = await run(['tune', '--model', 'resnet7']);
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/^graft tune: unknown --model 'resnet7' \(known: vgg11, /)]);
    r = await run(['tune', '--warmups', '-1']);
    expect(r.code).toBe(2);
    oneLineNoStack(r.err);
    r = await run(['nope']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^graft: unknown command 'nope'/);
  });

  it('graft --help lists every command', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const s of SPECS) expect(r.out).toMatch(new RegExp(`\\n  ${s.name} +\\S`));
  });

  it('through bin/graft.js: exit codes and no stack trace; GRAFT_DEBUG=1 shows one', () => {
    const graft = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, ['--import', './scripts/register.js', 'bin/graft.js', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
    const help = graft(['convert', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: graft convert <input> <out\.safetensors>/);
    const missing = graft(['inspect', 'x', '--arch']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe("graft inspect: option '--arch' needs a value (graft inspect --help lists the options)\n");
    const absent = graft(['inspect', 'no-such-file.pth']);
    expect(absent.status).toBe(1);
    oneLineNoStack(absent.stderr);
    const debug = graft(['inspect', 'no-such-file.pth'], { GRAFT_DEBUG: '1' });
    expect(debug.status).toBe(1);
    expect(debug.stderr).toMatch(/\n\s+at /);
  }, 60_000);
});
