// `ztmesh inject` as a process: file or stdin in, stdout out, one note per object on stderr, errors name the
// file and the annotation, and flags reach the output.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const BOOKINFO = fileURLToPath(new URL('../fixtures/k8s/bookinfo.yaml', import.meta.url));
const POD = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: nginx\n';

describe('ztmesh inject (CLI)', () => {
  it('-f FILE: injects the bookinfo Deployments and notes each on stderr', async () => {
    const r = await runCli(['inject', '-f', BOOKINFO]);
    expect(r.code).toBe(0);
    const notes = r.stderr.trim().split('\n');
    expect(notes.filter((l) => l.endsWith(': injected'))).toHaveLength(6);
    expect(notes.filter((l) => l.endsWith(': unchanged (kind not a workload)'))).toHaveLength(notes.length - 6);
    expect(r.stderr).toContain('ztmesh inject: Deployment/productpage-v1: injected');
    expect(r.stderr).toContain('ztmesh inject: Service/productpage: unchanged (kind not a workload)');
    const kinds = parseAllDocuments(r.stdout).map((d) => (d.toJS() as { kind?: string } | null)?.kind);
    expect(kinds.filter((k) => k === 'Deployment')).toHaveLength(6);
  });

  it('stdin, with --legacy-sidecar --mode explicit --image and --ca-address', async () => {
    const r = await runCli(['inject', '--legacy-sidecar', '--mode', 'explicit', '--image', 'registry.example/ztmesh:dev', '--ca-address', 'ca.mesh:15012'], { input: POD });
    expect(r.code).toBe(0);
    const pod = parseAllDocuments(r.stdout)[0]!.toJS();
    expect(pod.spec.initContainers).toBeUndefined();
    expect(pod.spec.containers[0]).toMatchObject({ name: 'ztmesh-sidecar', image: 'registry.example/ztmesh:dev' });
    expect(pod.spec.containers[0].env).toContainEqual({ name: 'ZTMESH_CA_ADDRESS', value: 'ca.mesh:15012' });
  });

  it('a malformed annotation fails with exit 1, naming the file, the object and the annotation', async () => {
    const file = join(tempDir('ztmesh-inject-'), 'bad.yaml');
    writeFileSync(file, POD.replace('  name: p\n', '  name: p\n  annotations:\n    ztmesh.io/ttl: soon\n'));
    const r = await runCli(['inject', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain('Pod/p');
    expect(r.stderr).toContain('ztmesh.io/ttl');
    expect(r.stdout).toBe('');
  });

  it('an unknown --mode is refused', async () => {
    const r = await runCli(['inject', '--mode', 'magic'], { input: POD });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--mode/);
  });
});
