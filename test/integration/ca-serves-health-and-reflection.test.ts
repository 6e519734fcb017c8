// The CA serves grpc.health.v1 (overall and per service) and server reflection next to the CA service.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CA_SERVICE_NAME } from '../../src/common/ca-proto.js';
import { CA_TLS_NAME, startCa, type TestCaServer } from '../helpers/ca.js';

const require = createRequire(import.meta.url);
let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

function creds(): [grpc.ChannelCredentials, grpc.ChannelOptions] {
  return [grpc.credentials.createSsl(Buffer.from(ca.bundlePem)), { 'grpc.ssl_target_name_override': CA_TLS_NAME }];
}

describe('ca serves health and reflection', () => {
  it('answers SERVING for "" and for the CA service', async () => {
    const { protoPath } = require('grpc-health-check') as { protoPath: string };
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, { enums: String })) as any;
    const client = new pkg.grpc.health.v1.Health(ca.address, ...creds());
    for (const service of ['', CA_SERVICE_NAME]) {
      const res = await new Promise<{ status: string }>((resolve, reject) => client.Check({ service }, (e: Error | null, r: { status: string }) => (e ? reject(e) : resolve(r))));
      expect(res.status).toBe('SERVING');
    }
    client.close();
  });

  it('lists the CA service through server reflection', async () => {
    const dir = require.resolve('@grpc/reflection/package.json').replace(/package\.json$/, '');
    const def = protoLoader.loadSync(`${dir}build/proto/grpc/reflection/v1/reflection.proto`);
    const pkg = grpc.loadPackageDefinition(def) as any;
    const client = new pkg.grpc.reflection.v1.ServerReflection(ca.address, ...creds());
    const stream = client.ServerReflectionInfo();
    const reply = await new Promise<any>((resolve, reject) => {
      stream.on('data', resolve);
      stream.on('error', reject);
      stream.write({ listServices: '' });
    });
    stream.end();
    const names = reply.listServicesResponse.service.map((s: { name: string }) => s.name);
    expect(names).toContain(CA_SERVICE_NAME);
    client.close();
  });
});
