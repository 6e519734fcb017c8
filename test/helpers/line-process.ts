// A long-running child process whose stdout and stderr are collected line by line: src/common/line-process.ts (the
// demo's), taking the environment as its second argument as the tests pass it. cli.ts and netns.ts build on it.
import { LineProcess as Base } from '../../src/common/line-process.js';

/** A long-running process whose stdout/stderr lines are collected; `env` is added to this process's environment. */
export class LineProcess extends Base {
  constructor(argv: string[], env: NodeJS.ProcessEnv = {}) {
    super(argv, { env });
  }
}
