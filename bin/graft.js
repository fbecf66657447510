#!/usr/bin/env node
// `npx graft ...` from the installed package: the compiled CLI (dist/cli.js, built by `npm run build`).
// In a clone of the repository, `npm run graft -- <command>` runs the sources without a build.
let cli;
try {
  cli = await import('../dist/cli.js');
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist/cli.js')) throw e;
  console.error('graft: dist/cli.js is missing: run `npm run build` first (or `npm run graft -- <command>` in a clone of the repository)');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
