// The Node entry: everything the browser entry has, with Node's services registered: Dawn as WebGPU
// (SwiftShader where there is no GPU), the file system, the download cache folder, zlib and the
// PNG/JPEG decoders (io/node). The package's "node" export condition points here.
import { installNodeHost } from './io/node/install.ts';

installNodeHost();

export * from './index.ts';
