#!/usr/bin/env node
// Entry point of the ztmesh CLI; the compiled code lives in dist/.
import { main } from '../dist/cli/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`ztmesh: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(err && typeof err.exitCode === 'number' ? err.exitCode : 1);
});
