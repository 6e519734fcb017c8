// /healthz and /readyz, as every ztmesh server answers them (sidecar admin and health ports, CA admin, webhook):
// 200 "ok" while alive; 200 or 503 with {"ready", "pending", …details} (docs/design.md "Admin endpoints and JSON").
import { json, text, type Reply, type Routes } from './http-server.js';

/** Whether a process can do its work now, and the parts that keep it from it. */
export interface ReadinessReport {
  ready: boolean;
  /** Parts not ready yet, e.g. "identity (initializing)", "signer". Empty when ready. */
  pending: string[];
  /** Details a server adds (the CA's signer state, why the webhook waits). */
  [detail: string]: unknown;
}

/** The /healthz answer: the process is alive. */
export function healthzReply(): Reply {
  return text(200, 'ok\n');
}

/** The /readyz answer: 200 when ready, else 503; the report as JSON either way. */
export function readyzReply(report: ReadinessReport): Reply {
  return json(report.ready ? 200 : 503, report);
}

/** The two probe routes over a readiness report. */
export function probeRoutes(report: () => ReadinessReport): Routes {
  return {
    'GET /healthz': healthzReply,
    'GET /readyz': () => readyzReply(report()),
  };
}
