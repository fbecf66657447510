#!/usr/bin/env node
// `npm start` / `npm run graft -- <command>` in this repository: the CLI from the TypeScript sources
// (tsx), with `.wgsl?raw` imports as in Vite. The published `graft` command (bin/graft.js) runs dist/.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./wgsl-loader.js', import.meta.url);
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
