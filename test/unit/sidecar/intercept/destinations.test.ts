// Routing decisions of transparent outbound (passthrough vs mTLS, expected IDs) and the loop guards' pure parts.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { normalizeAddress } from '../../../../src/common/cidr.js';
import { DestinationPolicy, OwnListeners, parseExpectKey } from '../../../../src/sidecar/intercept/destinations.js';
import { DialTracker } from '../../../../src/sidecar/intercept/dial-tracker.js';
import { decodeSockaddr } from '../../../../src/sidecar/intercept/original-dst.js';

const policy = new DestinationPolicy({
  expect: {
    '10.0.0.0/8:*': 'spiffe://cluster.local/ns/default/*',
    '10.1.0.0/16:8080': 'spiffe://cluster.local/ns/api/sa/api',
    '10.1.0.0/16:*': 'spiffe://cluster.local/ns/api/*',
    '[fd00::/8]:443': 'spiffe://cluster.local/ns/web/sa/web',
  },
  passthrough: { cidrs: ['169.254.169.254/32', '192.168.0.0/16', 'fd99::/16'], ports: [5432] },
});

describe('DestinationPolicy.route', () => {
  it.each([
    ['10.1.2.3', 8080, { kind: 'expect', rule: '10.1.0.0/16:8080', id: 'spiffe://cluster.local/ns/api/sa/api' }],
    ['10.1.2.3', 9090, { kind: 'expect', rule: '10.1.0.0/16:*', id: 'spiffe://cluster.local/ns/api/*' }],
    ['10.9.9.9', 8080, { kind: 'expect', rule: '10.0.0.0/8:*', id: 'spiffe://cluster.local/ns/default/*' }],
    ['::ffff:10.9.9.9', 8080, { kind: 'expect', rule: '10.0.0.0/8:*', id: 'spiffe://cluster.local/ns/default/*' }],
    ['fd00::1', 443, { kind: 'expect', rule: '[fd00::/8]:443', id: 'spiffe://cluster.local/ns/web/sa/web' }],
    ['fd00::1', 80, { kind: 'none' }],
    ['172.16.0.1', 80, { kind: 'none' }],
    ['169.254.169.254', 80, { kind: 'passthrough', because: 'cidr' }],
    ['192.168.4.4', 8080, { kind: 'passthrough', because: 'cidr' }],
    ['fd99::5', 8080, { kind: 'passthrough', because: 'cidr' }],
    ['10.1.2.3', 5432, { kind: 'passthrough', because: 'port' }],
  ])('%s:%i', (address, port, want) => {
    const r = policy.route({ address, port });
    if (want.kind !== 'expect') return expect(r).toEqual(want);
    expect(r.kind).toBe('expect');
    if (r.kind !== 'expect') return;
    expect(r.rule).toBe((want as { rule?: string }).rule);
    expect(r.expect.text).toBe((want as { id?: string }).id);
  });

  it('shows the passthrough destinations for /status', () => {
    expect(policy.passthroughSummary).toBe('169.254.169.254/32,192.168.0.0/16,fd99::/16,*:5432');
    expect(new DestinationPolicy({ expect: {}, passthrough: { cidrs: [], ports: [] } }).passthroughSummary).toBe('none');
  });

  it.each([
    ['10.0.0.0/8', 'has no ":port"'],
    ['10.0.0.0/8:http', 'bad port'],
    ['10.0.0.0/8:0', 'bad port'],
    ['10.0.0.0/40:80', 'bad CIDR'],
    ['example.com:80', 'bad CIDR'],
  ])('refuses the expect key %s (%s)', (key, why) => {
    expect(() => parseExpectKey(key)).toThrow(expect.objectContaining({ code: 'invalid_expect', message: expect.stringContaining(why) }));
  });

  it('parses v6 keys with or without brackets', () => {
    expect(parseExpectKey('fd00::/8:80')).toMatchObject({ cidr: 'fd00::/8', port: 80, family: 6 });
    expect(parseExpectKey('[fd00::1]:*')).toMatchObject({ cidr: 'fd00::1/128', port: '*' });
  });

  it('refuses a bad passthrough CIDR and a bad expected pattern at startup', () => {
    expect(() => new DestinationPolicy({ expect: {}, passthrough: { cidrs: ['10.0.0.0/99'], ports: [] } })).toThrow(/passthrough.cidrs/);
    expect(() => new DestinationPolicy({ expect: { '10.0.0.0/8:*': 'http://x' }, passthrough: { cidrs: [], ports: [] } })).toThrow(/SPIFFE/);
  });
});

describe('OwnListeners', () => {
  const own = new OwnListeners([15001, 15006], () => new Set(['10.0.0.5', 'fd00::5']));
  it.each([
    ['127.0.0.1', 15001, true], ['::ffff:127.0.0.1', 15001, true], ['::1', 15006, true], ['10.0.0.5', 15006, true],
    ['fd00::5', 15001, true], ['10.0.0.6', 15006, false], ['10.0.0.5', 8080, false], ['127.0.0.1', 8080, false],
  ])('%s:%i → %s', (address, port, want) => {
    expect(own.has({ address: address as string, port: port as number })).toBe(want);
  });
});

describe('normalizeAddress and decodeSockaddr', () => {
  it('strips the IPv4-mapped prefix only', () => {
    expect(normalizeAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeAddress('::ffff:abcd')).toBe('::ffff:abcd');
    expect(normalizeAddress('fd00::1')).toBe('fd00::1');
  });

  it.each([
    ['sockaddr_in', Buffer.from([2, 0, 0x1f, 0x90, 10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0]), { address: '10.1.2.3', port: 8080, family: 4 }],
    ['sockaddr_in6 fd00::2', in6('fd000000000000000000000000000002', 443), { address: 'fd00::2', port: 443, family: 6 }],
    ['sockaddr_in6 ::1', in6('00000000000000000000000000000001', 15001), { address: '::1', port: 15001, family: 6 }],
    ['sockaddr_in6 2001:db8:0:1:0:0:0:1', in6('20010db8000000010000000000000001', 80), { address: '2001:db8:0:1::1', port: 80, family: 6 }],
  ])('%s', (_n, buf, want) => {
    expect(decodeSockaddr(buf)).toEqual(want);
    if (want.family === 6) expect(net.isIPv6(want.address)).toBe(true);
  });
});

function in6(hex: string, port: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(10, 0);
  b.writeUInt16BE(port, 2);
  Buffer.from(hex, 'hex').copy(b, 8);
  return b;
}

describe('DialTracker', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => { while (cleanup.length) cleanup.pop()!(); });

  it('recognises an accepted socket whose remote end is one of our dials, and forgets it on close', async () => {
    const tracker = new DialTracker();
    const accepted: net.Socket[] = [];
    const verdicts: boolean[] = [];
    const server = net.createServer((s) => { verdicts.push(tracker.isOwnDial(s.remoteAddress, s.remotePort)); accepted.push(s); });
    cleanup.push(() => server.close());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const ours = net.connect(port, '127.0.0.1');
    tracker.track(ours);
    await new Promise((r) => ours.once('connect', r));
    const stranger = net.connect(port, '127.0.0.1');
    await new Promise((r) => stranger.once('connect', r));
    await new Promise((r) => setTimeout(r, 20));
    expect(verdicts).toEqual([true, false]);
    expect(tracker.size).toBe(1);
    ours.destroy();
    stranger.destroy();
    await new Promise((r) => ours.once('close', r));
    expect(tracker.size).toBe(0);
    for (const s of accepted) s.destroy();
  });
});
