import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatHostPort, formatPeer, grpcPeerName, parseHostPort } from '../../../src/common/address.js';
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

describe('host:port is built in one place', () => {
  it('formats a peer, and a peer as grpc-js names it (no brackets)', () => {
    expect(formatPeer('fd00::1', 5000)).toBe('[fd00::1]:5000');
    expect(formatPeer(undefined, 5000)).toBe('unknown');
    expect(grpcPeerName('fd00::1', 5000)).toBe('fd00::1:5000');
  });

  it('src/ joins a host and a port nowhere but common/address.ts', () => {
    const root = fileURLToPath(new URL('../../../src', import.meta.url));
    const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? (n === 'gen' ? [] : files(p)) : p.endsWith('.ts') ? [p] : [];
    });
    // `${host}:${port}`, a literal host before `:${...}` ("127.0.0.1:${p}", "localhost:${port}"), `+ ':' +`, brackets
    // built in a nested template and a port after it (`${v6 ? `[${h}]` : h}:${port}`), or any expression closing
    // right before `:${...port...}`.
    const joins = [
      /\$\{([^}]+)\}:\$\{([^}]+)\}/g, /(?:\d+\.\d+\.\d+\.\d+|localhost|\]):\$\{/g, /[\w.\]-]:\$\{[^}]*port[^}]*\}/gi, /\+\s*':'\s*\+/g,
      /\[\$\{[^}]+\}\].*:\$\{/g, /\}:\$\{[^}]*port[^}]*\}/gi,
    ];
    const isAddress = (m: RegExpExecArray) => m[2] === undefined || /host|addr/i.test(m[1]!) || /port/i.test(m[2]);
    const found: string[] = [];
    for (const f of files(root)) {
      if (relative(root, f) === join('common', 'address.ts')) continue;
      readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
        for (const re of joins) for (const m of line.matchAll(re)) if (isAddress(m)) found.push(`${relative(root, f)}:${i + 1}: ${m[0]}`);
      });
    }
    expect(found).toEqual([]);
  });
});
