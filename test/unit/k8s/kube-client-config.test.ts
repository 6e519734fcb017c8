// The API server's address from KUBERNETES_SERVICE_HOST/PORT: joined by the one host:port formatter (IPv6 bracketed),
// and a missing host or a port that is no port refused naming the variable.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/common/errors.js';
import { inClusterConfig } from '../../../src/k8s/kube-client.js';

describe('inClusterConfig', () => {
  it.each([
    [{ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, 'https://10.96.0.1'],
    [{ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '6443' }, 'https://10.96.0.1:6443'],
    [{ KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '6443' }, 'https://[fd00:10:96::1]:6443'],
    [{ KUBERNETES_SERVICE_HOST: 'fd00:10:96::1' }, 'https://[fd00:10:96::1]'],
  ])('finds the API server from %o', (env, server) => {
    expect(inClusterConfig(env).server).toBe(server);
  });

  it.each([
    [{}, 'k8s_not_in_cluster', /KUBERNETES_SERVICE_HOST/],
    [{ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: 'https' }, 'invalid_port', /KUBERNETES_SERVICE_PORT "https"/],
    [{ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '70000' }, 'invalid_port', /KUBERNETES_SERVICE_PORT "70000"/],
  ])('refuses %o naming the variable', (env, code, message) => {
    let err: unknown;
    try { inClusterConfig(env); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ code, message: expect.stringMatching(message) });
  });
});
