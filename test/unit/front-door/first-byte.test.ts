// The step before TLS decides from the first byte: a TLS handshake record is TLS, anything else plaintext. What the
// front door then does with it (the bytes put back, silence, a client gone first) is in front-door.test.ts.
import { describe, expect, it } from 'vitest';
import { classifyFirstByte } from '../../../src/front-door/first-byte.js';

describe('first-byte detection', () => {
  it.each([
    [[0x16, 0x03, 0x01], 'tls'],
    [[0x47, 0x45, 0x54], 'plain'],
    [[0x15, 0x03, 0x03], 'plain'],
    [[], 'plain'],
  ])('classifies %j as %s', (bytes, want) => expect(classifyFirstByte(Uint8Array.from(bytes))).toBe(want));
});
