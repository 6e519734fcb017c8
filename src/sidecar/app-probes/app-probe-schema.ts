// The `appProbes` sidecar key (ZTMESH_APP_PROBES): the app's original kubelet probes, keyed by the health path that
// replaced them. `ztmesh inject` and the webhook write it (src/k8s/probe-rewrite.ts); docs/kubernetes.md "Health probes".
import { z } from 'zod';

/** /app-health/<container>/<livez|readyz|startupz>: the only paths the health port answers for app probes. */
export const APP_HEALTH_PATH = /^\/app-health\/[a-z0-9]([-a-z0-9]*[a-z0-9])?\/(livez|readyz|startupz)$/;

/** Longest probe timeout honoured; a longer one would let one request hold a health socket for minutes. */
export const MAX_PROBE_TIMEOUT_SECONDS = 60;

const port = z.number().int().min(1).max(65535);
const timeoutSeconds = z.number().positive().max(MAX_PROBE_TIMEOUT_SECONDS).default(1);

const httpGet = z.object({
  path: z.string().default('/'),
  port,
  scheme: z.enum(['HTTP', 'HTTPS']).default('HTTP'),
  httpHeaders: z.array(z.object({ name: z.string().min(1), value: z.string() }).strict()).max(32).default([]),
}).strict();

/** One original probe: exactly one of httpGet, tcpSocket or grpc, with its timeout. */
export const appProbeSchema = z.union([
  z.object({ httpGet, timeoutSeconds }).strict(),
  z.object({ tcpSocket: z.object({ port }).strict(), timeoutSeconds }).strict(),
  z.object({ grpc: z.object({ port, service: z.string().optional() }).strict(), timeoutSeconds }).strict(),
]);

export const appProbesSchema = z.record(
  z.string().regex(APP_HEALTH_PATH, 'not an app health path (/app-health/<container>/<livez|readyz|startupz>)'),
  appProbeSchema,
).superRefine((v, ctx) => {
  if (Object.keys(v).length > 64) ctx.addIssue({ code: 'custom', message: 'more than 64 app probes' });
});

export type AppProbe = z.output<typeof appProbeSchema>;
export type AppProbes = z.output<typeof appProbesSchema>;
