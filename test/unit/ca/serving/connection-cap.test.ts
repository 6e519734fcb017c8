// The CA's connection cap fits under the open-file limit with a reserve.
import { expect, it } from 'vitest';
import { FD_RESERVE, fitConnectionCap } from '../../../../src/ca/serving/connection-cap.js';

it('fits the cap under the open-file limit with a reserve', () => {
  expect(fitConnectionCap(2048, undefined)).toBe(2048);
  expect(fitConnectionCap(2048, 1_048_576)).toBe(2048);
  expect(fitConnectionCap(2048, 600)).toBe(600 - FD_RESERVE);
  expect(fitConnectionCap(2048, 10)).toBe(1);
});
