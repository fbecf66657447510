// The `graft` command line (Node only: it registers Node's services first). Every command reads its
// options through command.ts (node:util parseArgs) and answers --help / -h.
import { installNodeHost } from '../io/node/install.ts';
import { CLASSIFY, classify } from './classify.ts';
import type { CommandSpec } from './command.ts';
import { CONVERT, convert } from './convert.ts';
import { DOCTOR, doctor } from './doctor.ts';
import { FINETUNE, finetune } from './finetune.ts';
import { INSPECT, inspect } from './inspect.ts';
import { MAIN_JOB, mainJob } from './main-job.ts';
import { PROFILE, profileCommand } from './profile.ts';
import { TUNE, tuneCommand } from './tune.ts';
import { type Io, oneLine, processIo } from './shared.ts';

const COMMANDS: [CommandSpec, (argv: string[], io: Io) => Promise<number>][] = [
  [DOCTOR, doctor], [CONVERT, convert], [INSPECT, inspect], [CLASSIFY, classify], [FINETUNE, finetune], [MAIN_JOB, mainJob], [TUNE, tuneCommand],
  [PROFILE, profileCommand],
];

export const HELP = [
  'graft — WebGPU transfer learning',
  '',
  'usage: graft <command> [options]     (graft <command> --help lists its options and defaults)',
  '',
  'commands:',
  ...COMMANDS.map(([s]) => `  ${s.name.padEnd(10)}${s.summary.split(/(?<=\.) /)[0]}`),
  '',
  'GRAFT_DEBUG=1 shows the stack of an error; GRAFT_WEIGHTS_DIR names a folder of weights.',
  '',
].join('\n');

export async function main(args: string[], io: Io = processIo): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    io.out(HELP);
    return 0;
  }
  const command = COMMANDS.find(([s]) => s.name === cmd);
  if (!command) {
    io.err(`graft: unknown command '${cmd}' (commands: ${COMMANDS.map(([s]) => s.name).join(', ')}; graft --help)\n`);
    return 2;
  }
  try {
    installNodeHost();
    return await command[1](rest, io);
  } catch (e) {
    io.err(`graft ${cmd}: ${oneLine(e)}\n`);
    return 1;
  }
}
