// A 4 MB CSR is refused with RESOURCE_EXHAUSTED before it is buffered (grpc-js reads the length prefix first), and
// the refusal gets what every refusal gets: a log line naming the peer (code message_too_large) and a metric.
// Twenty of them at once leave the CA's memory where it was.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, refusalLogged, signError, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca?.stop(); });

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('ca and an oversized CSR', () => {
  it('answers RESOURCE_EXHAUSTED with code message_too_large, logged with the peer and counted, memory bounded', async () => {
    const big = randomBytes(4 * 1024 * 1024);
    const token = await ca.mintToken('spiffe://example.org/ns/default/sa/big');
    const err = await signError(ca.client(), big, { token });
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const line = await refusalLogged(ca, 'message_too_large');
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(line.grpcCode).toBe(grpc.status.RESOURCE_EXHAUSTED);

    const before = rssMb(ca.process.child.pid!);
    const client = ca.client();
    const errs = await Promise.all(Array.from({ length: 20 }, () => signError(client, big, { token })));
    expect(errs.every((e) => e.code === grpc.status.RESOURCE_EXHAUSTED)).toBe(true);
    const grown = rssMb(ca.process.child.pid!) - before;
    expect(grown).toBeLessThan(40); // 20 × 4 MB would be 80 MB if buffered

    const metrics = await (await fetch(`http://${ca.adminAddress}/metrics`)).text();
    expect(metrics).toMatch(/ztmesh_ca_sign_total\{result="message_too_large"\} 21/);
    await expectStillServing(ca);
    process.stdout.write(`oversized CSR: CA RSS grew ${grown.toFixed(1)} MB over 20 concurrent 4 MB requests\n`);
  });
});
