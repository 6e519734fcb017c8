// Kubernetes manifests for a CA made by `ca init --k8s-secret`: the signing Secret and the trust bundle ConfigMap.
// Names match deploy/: Secret ztmesh-ca-signing and ConfigMap ztmesh-trust-bundle in ztmesh-system.
import { stringify } from 'yaml';
import { CA_NAMESPACE, TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY } from '../common/mesh.js';

export const CA_SECRET_NAME = 'ztmesh-ca-signing';

/** A multi-document YAML string: the Secret (ca.pem, ca.key, bundle.pem, chain.pem?) and the ConfigMap. */
export function caManifests(files: { certPem: string; keyPem: string; bundlePem: string; chainPem?: string }): string {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: CA_SECRET_NAME, namespace: CA_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'ztmesh' } },
    type: 'Opaque',
    data: {
      'ca.pem': b64(files.certPem),
      'ca.key': b64(files.keyPem),
      'bundle.pem': b64(files.bundlePem),
      ...(files.chainPem ? { 'chain.pem': b64(files.chainPem) } : {}),
    },
  };
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: TRUST_BUNDLE_CONFIGMAP, namespace: CA_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'ztmesh' } },
    data: { [TRUST_BUNDLE_KEY]: files.bundlePem },
  };
  return `${stringify(secret)}---\n${stringify(configMap)}`;
}
