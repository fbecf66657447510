// vitest (Node) runs the sources directly, not through the package's Node entry: register Node's
// services (Dawn, file system, cache folder, decoders) as src/node.ts does.
import { installNodeHost } from '../src/io/node/install.ts';

installNodeHost();
