// The `graft` command line (Node only: it registers Node's services first).
import { installNodeHost } from '../io/node/install.ts';
import { doctor } from './doctor.ts';
import { convert } from './convert.ts';
import { inspect } from './inspect.ts';
import { classify } from './classify.ts';
import { finetune } from './finetune.ts';
import { mainJob } from './main-job.ts';

const HELP = `graft — WebGPU transfer learning

Usage:
  graft doctor [--json] [--swiftshader]   adapter, limits, and a compile check of every kernel
  graft convert <in> <out.safetensors> [--arch name] [--no-strict]
                                          .pth / Keras .h5 / model.json / safetensors -> safetensors
  graft inspect <file> [--arch name] [--json]
                                          tensors of a weight file; with --arch, what does not match
  graft classify --model <arch> --weights <path> <image.png>... [--top k] [--json] [--labels file]
                                          top-k ImageNet classes of images (e.g. --model darknet-tiny)
  graft finetune --model <arch> --data <folder> [--weights <path>] [--recipe staged] [--epochs 5] ...
                                          fine-tune on a folder of PNGs per class (see graft finetune --help)
  graft main-job [--weights <folder>] [--resume] ...
                                          the main job (npm start): ImageNet transfer vs scratch on Fashion-MNIST
  graft help
`;

export async function main(args: string[]): Promise<number> {
  installNodeHost();
  const [cmd, ...rest] = args;
  switch (cmd) {
    case 'doctor':
      return doctor(rest);
    case 'convert':
      return convert(rest);
    case 'inspect':
      return inspect(rest);
    case 'classify':
      return classify(rest);
    case 'finetune':
      return finetune(rest);
    case 'main-job':
      return mainJob(rest);
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
