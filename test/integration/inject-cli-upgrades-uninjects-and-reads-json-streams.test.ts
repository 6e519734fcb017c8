// The `ztmesh inject` and `ztmesh uninject` commands as a user runs them: a stream of concatenated JSON objects
// (kubectl's -o json for several resources) comes out as one List; injecting an injected manifest with a new image
// upgrades it (no more "skipped: already_injected"); uninject gives back the input's objects.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const pod = (name: string, port: number) => ({
  kind: 'Pod', apiVersion: 'v1', metadata: { name, creationTimestamp: null },
  spec: { containers: [{ name: 'app', image: 'nginx', ports: [{ containerPort: port }], readinessProbe: { httpGet: { path: '/', port } } }] },
});
/** Two objects as `kubectl create -f a.yaml -f b.yaml --dry-run=client -o json` prints them: one after the other. */
const STREAM = `${JSON.stringify(pod('a', 8080), null, 4)}\n${JSON.stringify(pod('b', 9090), null, 4)}\n`;

describe('ztmesh inject / uninject', () => {
  it('reads concatenated JSON objects, upgrades what it injected before, and uninject restores the input', async () => {
    const first = await runCli(['inject', '--image', 'registry.example/ztmesh:old'], { input: STREAM });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe('ztmesh inject: Pod/a: injected\nztmesh inject: Pod/b: injected\n');
    const list = JSON.parse(first.stdout);
    expect(list.kind).toBe('List');
    expect(list.items.map((p: { spec: { initContainers: { image: string }[] } }) => p.spec.initContainers.map((c) => c.image))).toEqual([
      ['registry.example/ztmesh:old', 'registry.example/ztmesh:old'], ['registry.example/ztmesh:old', 'registry.example/ztmesh:old'],
    ]);

    const second = await runCli(['inject', '--image', 'registry.example/ztmesh:new'], { input: first.stdout });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('already_injected');
    expect(second.stderr).toMatch(/^ztmesh inject: Pod\/a: upgraded \(injected by ztmesh [\d.]+, now [\d.]+\)$/m);
    expect(JSON.parse(second.stdout).items[1].spec.initContainers.map((c: { image: string }) => c.image)).toEqual(['registry.example/ztmesh:new', 'registry.example/ztmesh:new']);

    const third = await runCli(['inject', '--image', 'registry.example/ztmesh:new'], { input: second.stdout });
    expect(third.stderr).toBe('ztmesh inject: Pod/a: unchanged: up_to_date\nztmesh inject: Pod/b: unchanged: up_to_date\n');

    const back = await runCli(['uninject'], { input: third.stdout });
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toBe('ztmesh uninject: Pod/a: uninjected\nztmesh uninject: Pod/b: uninjected\n');
    expect(JSON.parse(back.stdout)).toEqual({ apiVersion: 'v1', kind: 'List', items: [pod('a', 8080), pod('b', 9090)] });
  });

  it('a broken value in the stream is refused naming the input, the value and the offset', async () => {
    const r = await runCli(['inject'], { input: `${JSON.stringify(pod('a', 8080))}\n{"kind": }` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/stdin: not valid JSON: value 2 \(at offset \d+\)/);
  });
});
