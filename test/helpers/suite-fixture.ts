// A fixture for the test file that calls it: started in beforeAll, stopped in afterAll, and returned at once as a
// stand-in whose properties are read from the started value when used (so that `describe` bodies can hold it).
import { afterAll, beforeAll } from 'vitest';

/** `start` runs in beforeAll and `stop` in afterAll; reading the stand-in before beforeAll ran says so. */
export function suiteFixture<T extends object>(what: string, start: () => Promise<T>, stop: (t: T) => Promise<void>): T {
  let started: T | undefined;
  beforeAll(async () => { started = await start(); });
  afterAll(async () => { if (started) await stop(started); });
  return new Proxy({} as T, {
    get(_target, key) {
      if (!started) throw new Error(`the ${what} is used before beforeAll started it`);
      return Reflect.get(started, key);
    },
  });
}
