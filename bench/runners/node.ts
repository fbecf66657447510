// Node runner: fork bench/runners/node-child.ts with the TypeScript + WGSL loaders, relay its events.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions } from '../options.ts';
import type { BenchEvent } from '../suite.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

export function runNode(opts: BenchOptions, onEvent: (e: BenchEvent) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(here, 'node-child.ts'), [JSON.stringify(opts)], {
      cwd: root,
      execArgv: ['--import', path.join(root, 'scripts/register.js')],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (m) => onEvent(m as BenchEvent));
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`the Node run exited with ${signal ?? `code ${code}`}`))));
  });
}
