// Which namespaces get the trust bundle ConfigMap, decided from what the watches keep: a Namespace's label and phase
// (namespaceView) and whether it holds a pod labelled for injection (isMeshed). Table-tested; the watches themselves
// run against the stand-in API server in test/integration/webhook-distributes-trust-bundle.test.ts.
import { describe, expect, it } from 'vitest';
import { isMeshed, namespaceView, type NamespaceView } from '../../../src/k8s/bundle-distributor.js';
import type { WatchedObject } from '../../../src/k8s/watch/resource.js';

const ns = (labels?: Record<string, string>, extra: Record<string, unknown> = {}) => ({ metadata: { name: 'x', ...(labels ? { labels } : {}) }, ...extra }) as unknown as WatchedObject;

describe('namespaceView', () => {
  it.each<[string, WatchedObject, NamespaceView | undefined]>([
    ['no label: not kept', ns(), undefined],
    ['another label: not kept', ns({ team: 'a' }), undefined],
    ['enabled', ns({ 'ztmesh.io/inject': 'enabled' }), { inject: 'enabled', terminating: false }],
    ['disabled', ns({ 'ztmesh.io/inject': 'disabled' }), { inject: 'disabled', terminating: false }],
    ['a value the selectors do not know: not kept', ns({ 'ztmesh.io/inject': 'true' }), undefined],
    ['terminating (phase)', ns(undefined, { status: { phase: 'Terminating' } }), { inject: undefined, terminating: true }],
    ['terminating (deletionTimestamp)', { metadata: { name: 'x', deletionTimestamp: new Date(), labels: { 'ztmesh.io/inject': 'enabled' } } } as unknown as WatchedObject, { inject: 'enabled', terminating: true }],
  ])('%s', (_what, obj, view) => expect(namespaceView(obj)).toEqual(view));
});

describe('isMeshed', () => {
  it.each<[string, NamespaceView | undefined, boolean, boolean]>([
    ['labelled enabled', { inject: 'enabled', terminating: false }, false, true],
    ['a labelled pod in a plain namespace', undefined, true, true],
    ['a plain namespace without labelled pods', undefined, false, false],
    ['a labelled pod in a disabled namespace', { inject: 'disabled', terminating: false }, true, false],
    ['enabled but terminating', { inject: 'enabled', terminating: true }, true, false],
  ])('%s → %s', (_what, view, pod, meshed) => expect(isMeshed(view, pod)).toBe(meshed));
});
