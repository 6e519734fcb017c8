// `ztmesh inject` behaves like kubectl: JSON in gives JSON out (kubectl ... -o json | ztmesh inject | kubectl apply
// -f -), YAML in gives YAML out, -f takes files, directories and -, repeatedly; every object gets its stderr line,
// kinds that are not workloads included; a malformed workload is refused naming the object and the field.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

/** What `kubectl create deployment j --image=nginx --dry-run=client -o json` prints. */
const KUBECTL_JSON = `{
    "kind": "Deployment",
    "apiVersion": "apps/v1",
    "metadata": {
        "name": "j",
        "creationTimestamp": null,
        "labels": {
            "app": "j"
        }
    },
    "spec": {
        "replicas": 1,
        "selector": {
            "matchLabels": {
                "app": "j"
            }
        },
        "template": {
            "metadata": {
                "creationTimestamp": null,
                "labels": {
                    "app": "j"
                }
            },
            "spec": {
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx",
                        "resources": {}
                    }
                ]
            }
        },
        "strategy": {}
    },
    "status": {}
}
`;
const SERVICE = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n';
const ROLLOUT = 'apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: canary\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: nginx\n';
const SA = '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"web"}}\n';
const POD = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: nginx\n';


describe('ztmesh inject like kubectl', () => {
  it('JSON in gives JSON out, which JSON.parse reads back', async () => {
    const r = await runCli(['inject'], { input: KUBECTL_JSON });
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d).toMatchObject({ kind: 'Deployment', metadata: { name: 'j' } });
    expect(d.spec.template.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['ztmesh-init', 'ztmesh-sidecar']);
    expect(r.stdout).toMatch(/^\{\n {4}"kind"/); // kubectl's own indentation
    expect(r.stderr).toBe('ztmesh inject: Deployment/j: injected\n');
  });

  it('a JSON object that needs nothing comes back byte for byte, with its note', async () => {
    const r = await runCli(['inject', '-f', '-'], { input: SA });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(SA);
    expect(r.stderr).toBe('ztmesh inject: ServiceAccount/web: unchanged (kind not a workload)\n');
  });

  it('reads a directory (its .yaml, .yml and .json files, sorted) and more -f, and writes YAML for mixed input', async () => {
    const dir = tempDir('ztmesh-inject-');
    writeFileSync(join(dir, 'a-service.yaml'), SERVICE);
    writeFileSync(join(dir, 'b-rollout.yml'), ROLLOUT);
    writeFileSync(join(dir, 'c-sa.json'), SA);
    writeFileSync(join(dir, 'README.md'), '# not a manifest\n');
    mkdirSync(join(dir, 'nested'));
    writeFileSync(join(dir, 'nested', 'pod.yaml'), POD);
    const extra = join(tempDir('ztmesh-inject-'), 'pod.yaml');
    writeFileSync(extra, POD.replace('name: p', 'name: q'));
    const r = await runCli(['inject', '-f', dir, '-f', extra]);
    expect(r.stderr).toBe([
      'ztmesh inject: Service/web: unchanged (kind not a workload)',
      'ztmesh inject: Rollout/canary: unchanged (kind not a workload)',
      'ztmesh inject: ServiceAccount/web: unchanged (kind not a workload)',
      'ztmesh inject: Pod/q: injected',
      '',
    ].join('\n'));
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(['Service/web', 'Rollout/canary', 'ServiceAccount/web', 'Pod/q']);
    expect(r.stdout.startsWith(SERVICE)).toBe(true); // unchanged YAML keeps its text

    const deep = await runCli(['inject', '-R', '-f', dir]);
    expect(deep.stderr).toContain('ztmesh inject: Pod/p: injected');
  });

  it('reads the deploy/kubernetes directory, one note per object', async () => {
    const r = await runCli(['inject', '-f', 'deploy/kubernetes']);
    expect(r.code).toBe(0);
    const objects = parseAllDocuments(r.stdout).map((d) => d.toJS()).filter((o) => o && typeof o === 'object');
    expect(r.stderr.trim().split('\n')).toHaveLength(objects.length);
  });

  it('a malformed workload is refused naming the file, the object and the field', async () => {
    const file = join(tempDir('ztmesh-inject-'), 'bad.yaml');
    writeFileSync(file, POD.replace('  containers:\n  - name: a\n    image: nginx\n', '  containers: "oops"\n'));
    const r = await runCli(['inject', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ztmesh inject: ${file}: Pod/p: spec.containers: must be a list of containers, got string "oops" (invalid_workload)\n`);
    expect(r.stdout).toBe('');

    const dep = JSON.parse(KUBECTL_JSON);
    dep.spec.template.spec.containers[0].ports = 80;
    const j = await runCli(['inject'], { input: JSON.stringify(dep) });
    expect(j.code).toBe(1);
    expect(j.stderr).toContain('Deployment/j: spec.template.spec.containers[0].ports: must be a list of ports, got number 80');
    expect(j.stderr).not.toMatch(/is not a function|TypeError/);
  });

  it('a missing file or an empty directory is named', async () => {
    expect((await runCli(['inject', '-f', '/nonexistent.yaml'])).stderr).toBe('ztmesh inject: -f /nonexistent.yaml: no such file or directory (manifest_unreadable)\n');
    const empty = tempDir('ztmesh-inject-');
    expect((await runCli(['inject', '-f', empty])).stderr).toContain(`-f ${empty}: the directory holds no .yaml, .yml or .json file`);
  });
});
