#!/usr/bin/env node
// `npm run bench`: the benchmark suite (bench/cli.ts), with TypeScript (tsx) and `.wgsl?raw` imports.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('../scripts/wgsl-loader.js', import.meta.url);
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
