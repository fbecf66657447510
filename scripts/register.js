// `node --import ./scripts/register.js file.ts`: TypeScript (tsx) plus `.wgsl?raw` imports, and
// Node's services registered as the package's Node entry does (Dawn, file system, cache, decoders),
// so that a script running the sources behaves like one importing the package in Node.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';
registerTsx();
register('./wgsl-loader.js', import.meta.url);
const { installNodeHost } = await import('../src/io/node/install.ts');
installNodeHost();
