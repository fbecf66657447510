#!/usr/bin/env node
// `npx graft ...`: TypeScript sources run directly (tsx), with `.wgsl?raw` imports as in Vite.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('../scripts/wgsl-loader.js', import.meta.url);
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
