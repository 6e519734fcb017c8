// `ztmesh check` reads the kubeconfig as kubectl does (through @kubernetes/client-node): it picks --context, sends a
// client certificate, runs an exec credential plugin; and RBAC decides: a user without rights fails --pre, naming
// what it may not create, and cannot read the install.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { installHealthy, writeKubeconfig } from '../helpers/k8s-install.js';
import { tempDir } from '../helpers/temp-dir.js';

let api: FakeApiServer;
beforeAll(async () => {
  api = await startFakeApiServer();
  await installHealthy(api);
});
afterAll(async () => { await api?.close(); });

describe('ztmesh check and the kubeconfig', () => {
  it('uses --context instead of the current context', async () => {
    const kubeconfig = writeKubeconfig(api, { stale: { user: { token: 'nobody' } }, admin: { user: { token: api.adminToken } } });
    expect((await runCli(['check', '--kubeconfig', kubeconfig])).code).toBe(1);
    const r = await runCli(['check', '--kubeconfig', kubeconfig, '--context', 'admin']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ztmesh check: context admin /);
  });

  it('authenticates with a client certificate (CN user, O group); a certificate without its key is one clear line', async () => {
    const cert = api.clientCert('alice', ['system:masters']);
    const r = await runCli(['check', '--kubeconfig', writeKubeconfig(api, { certs: { user: cert } })]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const unknown = await runCli(['check', '--kubeconfig', writeKubeconfig(api, { certs: { user: { certPem: api.caPem, keyPem: cert.keyPem } } })]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^ztmesh check: context certs: cannot use its TLS settings \(certificate authority, client certificate or key\): .*key values mismatch \(kubeconfig_invalid\)\n$/);
  });

  it('runs an exec credential plugin for its token', async () => {
    const token = api.addApiUser('oidc:bob', ['system:masters']);
    const plugin = join(tempDir('ztmesh-exec-'), 'plugin.mjs');
    writeFileSync(plugin, `process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: ${JSON.stringify(token)} } }));\n`);
    const r = await runCli(['check', '--kubeconfig', writeKubeconfig(api, { sso: { user: { exec: { command: process.execPath, args: [plugin] } } } })]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('a user without rights fails --pre naming what it may not create, and cannot read the install', async () => {
    const kubeconfig = writeKubeconfig(api, { dev: { user: { token: api.addApiUser('dev', ['developers']) } } });
    const pre = await runCli(['check', '--pre', '--kubeconfig', kubeconfig]);
    expect(pre.code).toBe(1);
    expect(pre.stdout).toMatch(/✘ permission to install the control plane: you may not create namespaces, serviceaccounts, secrets, configmaps, services, deployments\.apps, poddisruptionbudgets\.policy, clusterroles\.rbac\.authorization\.k8s\.io, clusterrolebindings\.rbac\.authorization\.k8s\.io, mutatingwebhookconfigurations\.admissionregistration\.k8s\.io, customresourcedefinitions\.apiextensions\.k8s\.io\n {6}hint: install as a cluster administrator/);
    const post = await runCli(['check', '--kubeconfig', kubeconfig]);
    expect(post.code).toBe(1);
    expect(post.stdout).toMatch(/✘ CA Secret ztmesh-ca-signing: cannot read Secret ztmesh-ca-signing: HTTP 403: secrets "ztmesh-ca-signing" is forbidden: User "dev" cannot get resource "secrets" in API group "" in the namespace "ztmesh-system"/);
  });
});
