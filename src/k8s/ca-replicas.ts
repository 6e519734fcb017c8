// Reads the fleet view of every CA replica through the API server (`ztmesh ca status --k8s`): lists the CA's pods,
// then asks each one's admin for GET /identities through the pods/proxy subresource, so nothing but the API server
// needs to be reachable and RBAC decides who may look (deploy/kubernetes/ca-status-rbac.yaml).
//
// Invariants: reads only (list pods, get pods/proxy); a replica that cannot be read is named with why, never
// dropped silently; pods that are not Running (being replaced, pending) are left out and said so.
import { formatHostPort } from '../common/address.js';
import { PORTS } from '../common/mesh.js';
import { isReplicaReport } from '../ca/audit/issued-ids.js';
import type { ReplicaView } from '../ca/audit/fleet-merge.js';
import type { KubeClient } from './kube-client.js';
import { apiError } from './watch/api-status.js';

/** The CA Deployment's pod label (deploy/kubernetes/ca-deployment.yaml). */
export const CA_POD_SELECTOR = 'app.kubernetes.io/name=ztmesh-ca';
/** The name of the CA container's admin port. */
export const CA_ADMIN_PORT_NAME = 'admin';

interface PodLike {
  metadata?: { name?: string };
  spec?: { containers?: { ports?: { name?: string; containerPort?: number }[] }[] };
  status?: { phase?: string; podIP?: string };
}

/** The replicas read, and the pods left out because they are not Running. */
export interface GatheredReplicas {
  views: ReplicaView[];
  skipped: { pod: string; phase: string }[];
}

/** Lists the CA pods in `namespace` and reads each Running one's GET /identities through pods/proxy. */
export async function gatherCaReplicas(client: KubeClient, opts: { namespace: string; selector?: string }): Promise<GatheredReplicas> {
  const ns = encodeURIComponent(opts.namespace);
  const selector = opts.selector ?? CA_POD_SELECTOR;
  const listed = await client.call('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`);
  if (listed.status !== 200) throw apiError({ verb: 'list', resource: 'pods', group: '', scope: `in namespace ${opts.namespace}` }, listed.status, listed.body);
  const pods = ((listed.body as { items?: PodLike[] } | undefined)?.items ?? []).filter((p) => p.metadata?.name);
  const skipped: GatheredReplicas['skipped'] = [];
  const running = pods.filter((p) => {
    const ok = p.status?.phase === 'Running' && !!p.status.podIP;
    if (!ok) skipped.push({ pod: p.metadata!.name!, phase: p.status?.phase ?? 'Unknown' });
    return ok;
  });
  const views = await Promise.all(running.map(async (pod): Promise<ReplicaView> => {
    const name = pod.metadata!.name!;
    const port = pod.spec?.containers?.flatMap((c) => c.ports ?? []).find((p) => p.name === CA_ADMIN_PORT_NAME)?.containerPort ?? PORTS.caAdmin;
    try {
      // The API server takes `pod:port` where a host:port would be, and dials that port of the pod's IP.
      const res = await client.call('GET', `/api/v1/namespaces/${ns}/pods/${formatHostPort(encodeURIComponent(name), port)}/proxy/identities`);
      if (res.status === 403) {
        return { replica: name, error: apiError({ verb: 'get', resource: 'pods/proxy', group: '', scope: `in namespace ${opts.namespace}` }, 403, res.body).message };
      }
      if (res.status !== 200 || !isReplicaReport(res.body)) return { replica: name, error: `its admin (port ${port}) answered HTTP ${res.status}, not a CA fleet view` };
      return { replica: name, report: res.body };
    } catch (e) {
      return { replica: name, error: (e as Error).message };
    }
  }));
  return { views, skipped };
}
