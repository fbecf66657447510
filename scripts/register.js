// `node --import ./scripts/register.js file.ts`: TypeScript (tsx) plus `.wgsl?raw` imports.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';
registerTsx();
register('./wgsl-loader.js', import.meta.url);
