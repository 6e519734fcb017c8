// A pod that would fail later (an impossible CIDR crash-loops the init container; an app on a sidecar port
// crash-loops the app; a probe on one answers for the sidecar) is refused by both doors at injection, naming the
// annotation or the field: `ztmesh inject` exits 1 with it, the webhook denies the pod (HTTP 400 in the review).
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { admissionFixture, webhookForSuite } from '../helpers/webhook-client.js';

const webhook = webhookForSuite();
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CASES: [string, (pod: Obj) => void, string][] = [
  ['an IPv4 CIDR with prefix 33', (p) => { p.metadata.annotations['ztmesh.io/exclude-outbound-cidrs'] = '10.0.0.0/33'; }, 'annotation ztmesh.io/exclude-outbound-cidrs: "10.0.0.0/33" has "10.0.0.0/33", not an IPv4 or IPv6 CIDR'],
  ['an IPv6 CIDR with prefix 129', (p) => { p.metadata.annotations['ztmesh.io/passthrough-cidrs'] = 'fd00::/129'; }, 'annotation ztmesh.io/passthrough-cidrs: "fd00::/129"'],
  ['an unknown outbound policy', (p) => { p.metadata.annotations['ztmesh.io/outbound-policy'] = 'allow-any'; }, 'annotation ztmesh.io/outbound-policy: "allow-any" is not one of "passthrough", "registry-only"'],
  ['an app port on the sidecar\'s metrics port', (p) => { p.spec.containers[0].ports = [{ containerPort: 15020 }]; }, 'spec.containers[0].ports[0].containerPort: 15020 is a port of the ztmesh sidecar'],
  ['a probe on the sidecar\'s admin port', (p) => { p.spec.containers[0].livenessProbe = { httpGet: { path: '/healthz', port: 15000 } }; }, 'spec.containers[0].livenessProbe.httpGet.port: 15000 is a port of the ztmesh sidecar'],
];

describe('injection refuses what would fail later, at both doors', () => {
  it.each(CASES)('%s', async (_, mutate, message) => {
    const review = admissionFixture();
    mutate(review.request.object);
    const answer = JSON.parse((await webhook.inject(review)).body).response;
    expect(answer).toMatchObject({ allowed: false, status: { code: 400, message: expect.stringContaining(message) } });
    const cli = await runCli(['inject'], { input: stringify({ ...review.request.object, metadata: { ...review.request.object.metadata, name: 'web' } }) });
    expect(cli.code).toBe(1);
    expect(cli.stdout).toBe('');
    expect(cli.stderr).toContain(`Pod/web: ${message}`);
  });
});
