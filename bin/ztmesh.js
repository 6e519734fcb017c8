#!/usr/bin/env node
// Entry point of the ztmesh CLI; the compiled code lives in dist/.
import { main } from '../dist/cli/main.js';
import { ZtmeshError } from '../dist/common/errors.js';

main(process.argv).catch((err) => {
  // ztmesh's own errors end with their stable code, so scripts and tests can match on it.
  const code = err instanceof ZtmeshError ? ` (${err.code})` : '';
  process.stderr.write(`ztmesh: ${err && err.message ? err.message : String(err)}${code}\n`);
  process.exit(err && typeof err.exitCode === 'number' ? err.exitCode : 1);
});
