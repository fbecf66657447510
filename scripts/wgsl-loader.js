// Node module hook: `import src from './x.wgsl?raw'` yields the file's text, as in Vite.
// Registered by bin/graft.js and the bench/weights tools (node --import ./scripts/register.js).
import { readFile } from 'node:fs/promises';

export async function load(url, context, nextLoad) {
  if (url.endsWith('.wgsl?raw')) {
    const text = await readFile(new URL(url.slice(0, -'?raw'.length)), 'utf8');
    return { format: 'module', shortCircuit: true, source: `export default ${JSON.stringify(text)};` };
  }
  return nextLoad(url, context);
}
