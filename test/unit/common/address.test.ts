import { describe, expect, it } from 'vitest';
import { formatHostPort, parseHostPort } from '../../../src/common/address.js';
import { ConfigError } from '../../../src/common/errors.js';

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:15000', '127.0.0.1', 15000], ['[::1]:8080', '::1', 8080], [':15006', '0.0.0.0', 15006], ['localhost:0', 'localhost', 0],
  ])('parses %s', (text, host, port) => expect(parseHostPort(text, 'admin')).toEqual({ host, port }));

  it.each(['15000', 'host:', 'host:99999', 'a:b', '[::1:80'])('refuses %s naming the key', (text) => {
    expect(() => parseHostPort(text, 'admin')).toThrow(ConfigError);
    expect(() => parseHostPort(text, 'admin')).toThrow(/admin/);
  });

  it('brackets IPv6 when formatting', () => {
    expect(formatHostPort('::1', 1)).toBe('[::1]:1');
    expect(formatHostPort('10.0.0.1', 1)).toBe('10.0.0.1:1');
  });
});
