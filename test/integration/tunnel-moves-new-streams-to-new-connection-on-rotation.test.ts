// Two real sidecars: when web rotates its certificate, its pooled tunnel connection (made with the old certificate)
// takes no new streams: the next app connection opens a new TLS connection presenting the new certificate, while the
// stream already open on the old one runs to its end with every byte; then the old connection closes.
import { describe, expect, it } from 'vitest';
import { connect, readAll } from '../helpers/datapath.js';
import { echoRoundTrip, payload, sha256, echoTunnelPairForSuite } from '../helpers/tunnel.js';

const serial = (hex: unknown) => String(hex).toLowerCase().replace(/^0+/, '');

describe('tunnel: rotation', () => {
  const pair = echoTunnelPairForSuite();

  const accepted = () => pair.api.proc.json().filter((l) => l.msg === 'tunnel connection accepted');
  const pool = async () => (await pair.web.status()).tunnelPools?.[0];

  it('moves new streams to a new connection; the old stream finishes, then its connection closes', async () => {
    const oldSerial = (await pair.web.status()).identity.serial;
    const old = await connect(pair.webPort);
    const oldReply = readAll(old);
    const before = payload(32 * 1024);
    old.write(before);
    await until(async () => (await pool())?.streamsActive === 1);
    // api's log line may still be on its way when web's /status already counts the stream.
    await until(async () => accepted().length > 0);
    expect(accepted().map((l) => serial(l.serial))).toEqual([serial(oldSerial)]);

    const rotated = await pair.web.rotate();
    expect(rotated.status).toBe(200);
    const newSerial = String(rotated.body.serial);
    expect(serial(newSerial)).not.toBe(serial(oldSerial));

    const fresh = await echoRoundTrip(pair.webPort, payload(16 * 1024));
    expect(fresh.received).toBe(fresh.sent);
    // A second TLS connection, with the new certificate; the old one is still there for the open stream.
    await until(async () => accepted().length > 1);
    expect(accepted().map((l) => serial(l.serial))).toEqual([serial(oldSerial), serial(newSerial)]);
    expect(await pool()).toMatchObject({ connections: 2, streamsActive: 1, streamsTotal: 2 });
    const streams = pair.api.proc.json().filter((l) => l.msg === 'inbound connection forwarded' && l.tunnel);
    expect(new Set(streams.map((l) => l.peer)).size).toBe(2);

    const after = payload(48 * 1024);
    old.end(after);
    const r = await oldReply;
    expect(r.error).toBeUndefined();
    expect(sha256(r.data)).toBe(sha256(Buffer.concat([before, after])));
    await until(async () => (await pool())?.connections === 1);
    // And the next streams keep using the new connection.
    const next = await echoRoundTrip(pair.webPort, payload(1024));
    expect(next.received).toBe(next.sent);
    expect(accepted()).toHaveLength(2);
  });
});

async function until(cond: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
