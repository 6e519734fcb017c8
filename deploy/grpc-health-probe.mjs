#!/usr/bin/env node
// Readiness probe for the CA: calls grpc.health.v1.Health/Check over TLS on the CA's own gRPC port.
// The kubelet's built-in grpc probe speaks plaintext only, and the CA serves TLS only, hence this client.
// Usage: node grpc-health-probe.mjs --address=127.0.0.1:15012 --server-name=NAME --ca-file=bundle.pem [--service=] [--timeout-ms=3000]
import { readFileSync } from 'node:fs';
import grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const m = /^--([^=]+)=(.*)$/.exec(a);
  if (!m) {
    process.stderr.write(`grpc-health-probe: bad argument ${a} (use --name=value)\n`);
    process.exit(2);
  }
  return [m[1], m[2]];
}));
const address = args.address ?? '127.0.0.1:15012';
const timeoutMs = Number(args['timeout-ms'] ?? 3000);

let roots;
try {
  roots = readFileSync(args['ca-file'] ?? '/var/run/ztmesh/ca/bundle.pem');
} catch (e) {
  process.stderr.write(`grpc-health-probe: cannot read --ca-file: ${e.message}\n`);
  process.exit(2);
}
const options = args['server-name'] ? { 'grpc.ssl_target_name_override': args['server-name'], 'grpc.default_authority': args['server-name'] } : {};
const Client = grpc.makeGenericClientConstructor(healthService, 'Health');
const client = new Client(address, grpc.credentials.createSsl(roots), options);
client.check({ service: args.service ?? '' }, { deadline: Date.now() + timeoutMs }, (err, res) => {
  client.close();
  if (err) {
    process.stderr.write(`grpc-health-probe: ${address}: ${err.code} ${err.details ?? err.message}\n`);
    process.exit(1);
  }
  const status = res?.status;
  process.stdout.write(`grpc-health-probe: ${address}: ${status}\n`);
  process.exit(status === 'SERVING' || status === 1 ? 0 : 1);
});
