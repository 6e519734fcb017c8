// `ca init --k8s-secret` manifests: the Secret and ConfigMap names and keys deploy/ mounts.
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { caManifests } from '../../../src/ca/manifests.js';

describe('caManifests', () => {
  it('emits Secret ztmesh-ca-signing and ConfigMap ztmesh-trust-bundle in ztmesh-system', () => {
    const docs = parseAllDocuments(caManifests({ certPem: 'C', keyPem: 'K', bundlePem: 'B', chainPem: 'I' })).map((d) => d.toJS());
    expect(docs).toHaveLength(2);
    const [secret, cm] = docs;
    expect(secret).toMatchObject({ kind: 'Secret', metadata: { name: 'ztmesh-ca-signing', namespace: 'ztmesh-system' } });
    expect(Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])))
      .toEqual({ 'ca.pem': 'C', 'ca.key': 'K', 'bundle.pem': 'B', 'chain.pem': 'I' });
    expect(cm).toMatchObject({ kind: 'ConfigMap', metadata: { name: 'ztmesh-trust-bundle', namespace: 'ztmesh-system' }, data: { 'roots.pem': 'B' } });
  });
});
