// Permissive mode's first-byte decision: a TLS handshake record is TLS, anything else plaintext, silence past the
// timeout plaintext (server-speaks-first), a client gone before its first byte closed; the bytes read are put back.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyFirstByte, detectFirstBytes, type FirstBytes } from '../../../src/sidecar/first-byte.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { until } from '../../helpers/until.js';

const servers: net.Server[] = [];
afterEach(() => { for (const s of servers.splice(0)) s.close(); });

/** A server whose accepted socket goes through detectFirstBytes; returns the verdict and what the socket then reads. */
async function detect(clock: FakeClock, client: (s: net.Socket) => void): Promise<{ verdict: () => FirstBytes | undefined; after: () => string; accepted: () => boolean }> {
  let verdict: FirstBytes | undefined;
  let after = '';
  let accepted = false;
  const server = net.createServer((raw) => {
    accepted = true;
    raw.on('error', () => {});
    detectFirstBytes(raw, 500, clock, (v) => {
      verdict = v;
      raw.on('data', (d: Buffer) => { after += d.toString('latin1'); });
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const s = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  s.on('error', () => {});
  client(s);
  return { verdict: () => verdict, after: () => after, accepted: () => accepted };
}

describe('first-byte detection', () => {
  it.each([
    [[0x16, 0x03, 0x01], 'tls'],
    [[0x47, 0x45, 0x54], 'plain'],
    [[0x15, 0x03, 0x03], 'plain'],
    [[], 'plain'],
  ])('classifies %j as %s', (bytes, want) => expect(classifyFirstByte(Uint8Array.from(bytes))).toBe(want));

  it('a TLS record: tls, and the record is still there to read', async () => {
    const d = await detect(new FakeClock(), (s) => s.write(Buffer.from([0x16, 0x03, 0x01, 0x00])));
    await until(() => d.verdict() !== undefined && d.after().length === 4);
    expect(d.verdict()).toBe('tls');
  });

  it('plain bytes: plain, and they are still there to read', async () => {
    const d = await detect(new FakeClock(), (s) => s.write('EHLO x\r\n'));
    await until(() => d.after() === 'EHLO x\r\n');
    expect(d.verdict()).toBe('plain');
  });

  it('silence: silent once the timeout passes, not before', async () => {
    const clock = new FakeClock();
    const d = await detect(clock, () => {});
    await until(() => d.accepted());
    await clock.advance(499);
    expect(d.verdict()).toBeUndefined();
    await clock.advance(1);
    expect(d.verdict()).toBe('silent');
  });

  it('a client gone before its first byte: closed, and no timer left', async () => {
    const clock = new FakeClock();
    const d = await detect(clock, (s) => s.end());
    await until(() => d.verdict() !== undefined);
    expect(d.verdict()).toBe('closed');
    expect(clock.pendingTimers()).toEqual([]);
  });
});
