// Host strings for the admin checks: strict Host header parsing, loopback, wildcard and same-address tests.
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, isWildcardHost, parseHostHeader, sameIp } from '../../../src/admin/host-literals.js';

describe('host literals', () => {
  it('parses host[:port] strictly', () => {
    expect(parseHostHeader('127.0.0.1:15000')).toEqual({ host: '127.0.0.1', port: 15000 });
    expect(parseHostHeader('[::1]:15000')).toEqual({ host: '::1', port: 15000 });
    expect(parseHostHeader('Admin.Internal')).toEqual({ host: 'Admin.Internal', port: undefined });
    for (const bad of ['', ':15000', '[::1', '[zz]:1', 'a b', 'u@h', 'h:1:2', 'h:', 'h:65536', 'h/x', 'h\r\nx', '[127.0.0.1]']) {
      expect(parseHostHeader(bad), bad).toBeUndefined();
    }
  });

  it('loopback is 127.0.0.0/8, ::1 in any spelling and the name localhost, never another name', () => {
    for (const h of ['127.0.0.1', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LocalHost']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['128.0.0.1', '0.0.0.0', '::', '10.1.2.3', 'fd00::1', 'localhost.', 'localhost.example', '127.0.0.1.nip.io']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('wildcards and same-address comparison across spellings', () => {
    expect(isWildcardHost('0.0.0.0') && isWildcardHost('::')).toBe(true);
    expect(isWildcardHost('127.0.0.1')).toBe(false);
    expect(sameIp('10.1.2.3', '::ffff:10.1.2.3')).toBe(true);
    expect(sameIp('fd00::5', 'fd00:0:0::5')).toBe(true);
    expect(sameIp('10.1.2.3', '10.1.2.4')).toBe(false);
    expect(sameIp('admin.internal', 'admin.internal')).toBe(false);
  });
});
