// Table and property tests of CIDR parsing and the numeric forms of addresses.
import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bigIntToIpv6, ipv4ToNumber, ipv6ToBigInt, normalizeAddress, parseCidr } from '../../../src/common/cidr.js';

describe('cidr', () => {
  it.each([
    ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 4 }],
    ['1.2.3.4', { address: '1.2.3.4', prefix: 32, family: 4 }],
    ['fd00::/8', { address: 'fd00::', prefix: 8, family: 6 }],
    ['::1', { address: '::1', prefix: 128, family: 6 }],
    ['fd00::/129', undefined],
    ['10.0.0/8', undefined],
    ['10.0.0.0/33', undefined],
    ['', undefined],
    ['10.0.0.0/', undefined],
  ])('parseCidr(%j)', (text, expected) => {
    expect(parseCidr(text)).toEqual(expected);
  });

  it.each([
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['10.0.0.1', '10.0.0.1'],
    ['fd00::1', 'fd00::1'],
  ])('normalizeAddress(%s)', (a, b) => expect(normalizeAddress(a)).toBe(b));

  it.each([
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffff_ffff],
    ['10.1.2.3', 0x0a01_0203],
  ])('ipv4ToNumber(%s)', (a, n) => expect(ipv4ToNumber(a)).toBe(n));

  it.each([
    ['::', 0n],
    ['::1', 1n],
    ['fd00::', 0xfd00n << 112n],
    ['1:2:3:4:5:6:7:8', 0x0001_0002_0003_0004_0005_0006_0007_0008n],
    ['::ffff:10.0.0.1', 0xffff_0a00_0001n],
    ['fe80::1%eth0', (0xfe80n << 112n) | 1n],
  ])('ipv6ToBigInt(%s)', (a, n) => expect(ipv6ToBigInt(a)).toBe(n));

  it('ipv6ToBigInt and bigIntToIpv6 round-trip every address, whatever its spelling', () => {
    fc.assert(fc.property(fc.ipV6(), (a) => {
      expect(isIPv6(a)).toBe(true);
      const n = ipv6ToBigInt(a);
      expect(ipv6ToBigInt(bigIntToIpv6(n))).toBe(n);
      expect(n >= 0n && n < 1n << 128n).toBe(true);
    }));
  });
});
