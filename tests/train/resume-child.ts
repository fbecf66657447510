// Child process of checkpoint.node.test.ts: a fresh process (new module-level seed counters, a new
// device) resumes training from a checkpoint file and saves the result.
//   node --import ./scripts/register.js tests/train/resume-child.ts <checkpoint> <epochs> <out>
import { graft } from '../../src/graph/gpu.ts';
import { saveCheckpoint } from '../../src/train/checkpoint.ts';
import { fit } from '../../src/train/fit.ts';
import { ToyNet, resumeOptions, resumeTrainData } from './toy.ts';

const [from, epochs, out] = process.argv.slice(2);
const gpu = await graft();
const net = new ToyNet(gpu, 7); // another initialisation and Dropout seed: all must come from the checkpoint
const o = resumeOptions();
const history = await fit(net, resumeTrainData(), { ...o, epochs: Number(epochs), resumeFrom: from });
await saveCheckpoint(out, net, o.optimizer, { epoch: history.epochs.length, history: history.epochs, seed: 0 });
gpu.destroy();
