// The `graft` command line.
import { doctor } from './doctor.ts';

const HELP = `graft — WebGPU transfer learning

Usage:
  graft doctor [--json] [--swiftshader]   adapter, limits, and a compile check of every kernel
  graft help
`;

export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  switch (cmd) {
    case 'doctor':
      return doctor(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`graft: unknown command '${cmd}'\n\n${HELP}`);
      return 2;
  }
}
