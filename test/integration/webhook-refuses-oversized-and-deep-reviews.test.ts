// What one review may cost the webhook is bounded before it is parsed: a body over the API server's 3 MiB limit is
// refused (413) as soon as its length says so or its bytes pass the limit, JSON nested deeper than 64 or holding more
// than 20,000 values is refused (400) after one scan of the bytes, and a pod of more than 128 containers is denied
// with a message the user sees. Each refusal names its code; the webhook goes on serving ordinary reviews.
import { request } from 'node:https';
import { describe, expect, it } from 'vitest';
import { MAX_POD_CONTAINERS, MAX_REVIEW_BYTES, MAX_REVIEW_DEPTH, MAX_REVIEW_VALUES } from '../../src/k8s/review-bounds.js';
import { admissionFixture, webhookForSuite } from '../helpers/webhook-client.js';

const webhook = webhookForSuite();

/** Sends `chunks` one after the other (chunked: no content-length) or declares `declared` bytes and sends none. */
function raw(opts: { chunks?: Buffer[]; declared?: number }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: webhook.port, path: '/inject', method: 'POST', ca: webhook.caPem, servername: webhook.serverName, agent: false,
      headers: { 'content-type': 'application/json', ...(opts.declared !== undefined ? { 'content-length': String(opts.declared) } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (opts.chunks) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else {
      req.flushHeaders();
    }
  });
}

const withContainers = (n: number) => {
  const r = admissionFixture();
  r.request.object.spec.containers = Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image: 'app:1' }));
  return r;
};

describe('bounds on a review', () => {
  it('a body declared larger than 3 MiB is refused before any of it is sent', async () => {
    const r = await raw({ declared: MAX_REVIEW_BYTES + 1 });
    expect(r).toMatchObject({ status: 413, body: expect.stringContaining('(review_too_large)') });
  });

  it('a streamed body is refused once it passes 3 MiB', async () => {
    const r = await raw({ chunks: Array.from({ length: 8 }, () => Buffer.alloc(512 * 1024, 0x20)) });
    expect(r).toMatchObject({ status: 413, body: expect.stringContaining(`body larger than ${MAX_REVIEW_BYTES} bytes`) });
  });

  it('JSON nested deeper than the limit, or holding too many values, is refused without parsing', async () => {
    const deep = await webhook.inject(JSON.parse(`{"a":${'['.repeat(MAX_REVIEW_DEPTH)}${']'.repeat(MAX_REVIEW_DEPTH)}}`));
    expect(deep).toMatchObject({ status: 400, body: expect.stringContaining('(review_too_deep)') });
    const r = admissionFixture();
    r.request.object.metadata.annotations = Object.fromEntries(Array.from({ length: MAX_REVIEW_VALUES }, (_, i) => [`k${i}`, 'v']));
    expect(await webhook.inject(r)).toMatchObject({ status: 400, body: expect.stringContaining('(review_too_many_values)') });
    // Brackets and commas inside strings are text, not structure.
    const quoted = admissionFixture();
    quoted.request.object.metadata.annotations.note = `${'[{,'.repeat(30_000)}"\\`;
    expect((await webhook.inject(quoted)).status).toBe(200);
  });

  it(`a pod of more than ${MAX_POD_CONTAINERS} containers is denied with a message; one of ${MAX_POD_CONTAINERS} is injected`, async () => {
    const over = JSON.parse((await webhook.inject(withContainers(MAX_POD_CONTAINERS + 1))).body).response;
    expect(over).toMatchObject({ allowed: false, status: { code: 400, message: expect.stringContaining(`the pod has ${MAX_POD_CONTAINERS + 1} containers`) } });
    const at = JSON.parse((await webhook.inject(withContainers(MAX_POD_CONTAINERS))).body).response;
    expect(at).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
  });

  it('goes on serving ordinary reviews', async () => {
    const ok = await webhook.inject(admissionFixture());
    expect(JSON.parse(ok.body).response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
  });
});
