// The review bytes the webhook holds at once, across requests, are bounded (MAX_BUFFERED_BYTES, 48 MiB, made 64 KiB
// here): while a slow client holds most of the budget, a review that would pass it is refused with 503 webhook_busy
// (the API server retries) and logged, a review that fits is answered as usual, and once the slow one is done its
// bytes are given back and the larger review is answered too.
import type { ClientRequest } from 'node:http';
import { request } from 'node:https';
import { afterAll, describe, expect, it } from 'vitest';
import { captureLogger } from '../helpers/capture-logger.js';
import { admissionFixture, webhookForSuite, type HttpsReply } from '../helpers/webhook-client.js';

const KiB = 1024;
const BUDGET = 64 * KiB;
/** What the slow client sends first and holds: with a larger review it passes the budget, with a small one it does not. */
const HELD = 48 * KiB;
const log = captureLogger();
const webhook = webhookForSuite({ maxBufferedBytes: BUDGET, log: log.logger });

/** The fixture review, padded with JSON whitespace to `size` bytes. */
const reviewOf = (size: number): Buffer => {
  const json = Buffer.from(JSON.stringify(admissionFixture()));
  return Buffer.concat([json, Buffer.alloc(size - json.length, 0x20)]);
};

/** A POST whose body is sent piece by piece: `req.write` more, `req.end` to finish; `reply` is the answer. */
function slowPost(): { req: ClientRequest; reply: Promise<HttpsReply> } {
  let req!: ClientRequest;
  const reply = new Promise<HttpsReply>((resolve, reject) => {
    req = request({
      host: '127.0.0.1', port: webhook.port, path: '/inject', method: 'POST', ca: webhook.caPem, servername: webhook.serverName, agent: false,
      headers: { 'content-type': 'application/json' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), peerCertSerial: '' }));
    });
    req.on('error', reject);
  });
  return { req, reply };
}

describe('review bytes in flight', () => {
  let slow: ReturnType<typeof slowPost> | undefined;
  afterAll(() => slow?.req.destroy());

  it('refuses a review that would take the bytes held past the bound (503 webhook_busy), and answers one that fits', async () => {
    const large = reviewOf(20 * KiB);
    expect(HELD + large.length).toBeGreaterThan(BUDGET);
    slow = slowPost();
    slow.req.write(Buffer.alloc(HELD, 0x20)); // leading whitespace of a review still to come
    // Refused once the webhook holds the slow client's bytes (until then the larger review still fits).
    let busy: HttpsReply | undefined;
    await expect.poll(async () => (busy = await postRaw(large)).status).toBe(503);
    expect(busy).toMatchObject({ status: 503, body: expect.stringContaining('(webhook_busy)') });
    expect(log.lines.find((l) => l.code === 'webhook_busy')).toMatchObject({ level: 'warn', msg: expect.stringContaining('webhook: refused request'), peer: expect.any(String) });
    const small = await webhook.inject(admissionFixture());
    expect(small.status).toBe(200);
    expect(JSON.parse(small.body).response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
  });

  it('gives the bytes back once a review is answered: the slow one and then the larger one are answered', async () => {
    slow!.req.end(JSON.stringify(admissionFixture()));
    const done = await slow!.reply;
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body).response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    const large = await postRaw(reviewOf(20 * KiB));
    expect(large.status).toBe(200);
    expect(JSON.parse(large.body).response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
  });
});

/** POSTs `body` as it is (webhook.inject would re-serialize it without its padding). */
async function postRaw(body: Buffer): Promise<HttpsReply> {
  const p = slowPost();
  p.req.end(body);
  return p.reply;
}
