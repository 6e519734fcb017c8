// `ztmesh inject` prints one stderr warning line for a transparent-mode workload in a namespace that the manifest
// itself labels Pod Security `restricted` or `baseline`, and one for a hostPort; none for the same workloads otherwise.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const ns = (name: string, level?: string) => `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
${level ? `  labels:\n    pod-security.kubernetes.io/enforce: ${level}\n` : ''}`;
const deploy = (name: string, namespace: string, hostPort = false) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
      - { name: app, image: nginx, ports: [{ containerPort: 8080${hostPort ? ', hostPort: 80' : ''} }] }
`;
const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.includes('warning:'));

describe('ztmesh inject warnings', () => {
  it('one line per workload in a restricted or baseline namespace of the same manifest, in transparent mode', async () => {
    const input = [ns('locked', 'restricted'), deploy('a', 'locked'), ns('base', 'baseline'), deploy('b', 'base'), ns('open', 'privileged'), deploy('c', 'open'), deploy('d', 'elsewhere')].join('---\n');
    const r = await runCli(['inject', '-f', '-'], { input });
    expect(r.code).toBe(0);
    const w = warnings(r.stderr);
    expect(w).toHaveLength(2);
    expect(w[0]).toMatch(/^ztmesh inject: warning: Deployment\/a: namespace locked enforces Pod Security "restricted", .*NET_ADMIN.*--mode explicit$/);
    expect(w[1]).toMatch(/^ztmesh inject: warning: Deployment\/b: namespace base enforces Pod Security "baseline"/);
  });

  it('no Pod Security warning in explicit mode', async () => {
    const explicit = await runCli(['inject', '-f', '-', '--mode', 'explicit'], { input: [ns('locked', 'restricted'), deploy('a', 'locked')].join('---\n') });
    expect(warnings(explicit.stderr)).toEqual([]);
  });

  it('one line for a hostPort', async () => {
    const r = await runCli(['inject', '-f', '-'], { input: deploy('h', 'default', true) });
    expect(r.code).toBe(0);
    expect(warnings(r.stderr)).toEqual([expect.stringMatching(/^ztmesh inject: warning: Deployment\/h: container app uses hostPort 80: /)]);
    expect(warnings((await runCli(['inject', '-f', '-'], { input: deploy('h', 'default') })).stderr)).toEqual([]);
  });
});
