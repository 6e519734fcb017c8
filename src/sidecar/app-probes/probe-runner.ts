// Runs one of the app's original kubelet probes against the app on loopback, as the kubelet would have:
// an HTTP GET (2xx/3xx passes), a TCP connect, or a gRPC health check (SERVING passes), bounded by the probe's timeout.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import type { Clock } from '../../common/clock.js';
import { cleanGrpcDetails, DIRECT_CHANNEL_OPTIONS } from '../../common/grpc-channel.js';
import type { AppProbe } from './app-probe-schema.js';
import { formatHostPort } from '../../common/address.js';

/** What one probe run found: `reason` is short, for the kubelet's event and the log. */
export interface ProbeOutcome {
  ok: boolean;
  reason: string;
}

/** The kubelet reads at most this much of an HTTP probe's answer; the rest is dropped. */
export const MAX_HTTP_BODY_BYTES = 10 * 1024;
/** The kubelet identifies its probes so; apps that special-case it keep working. */
export const PROBE_USER_AGENT = 'kube-probe/ztmesh';

/** How the sidecar reaches the app. */
export interface ProbeTarget {
  /** The app's address, 127.0.0.1 in a pod. */
  host: string;
  clock: Clock;
}

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');

/** Runs `probe` against the app; never rejects, and settles within the probe's timeout. */
export function runAppProbe(probe: AppProbe, target: ProbeTarget): Promise<ProbeOutcome> {
  const timeoutMs = probe.timeoutSeconds * 1000;
  return new Promise<ProbeOutcome>((resolve) => {
    let settled = false;
    let cleanup = () => {};
    const finish = (o: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      cleanup();
      resolve(o);
    };
    const timer = target.clock.setTimeout(() => finish({ ok: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
    if ('httpGet' in probe) cleanup = httpProbe(probe.httpGet, target.host, finish);
    else if ('tcpSocket' in probe) cleanup = tcpProbe(probe.tcpSocket.port, target.host, finish);
    else cleanup = grpcProbe(probe.grpc, target.host, timeoutMs, finish);
  });
}

type Finish = (o: ProbeOutcome) => void;
const failed = (what: string, e: NodeJS.ErrnoException) => ({ ok: false, reason: `${what}: ${e.code ?? e.message}` });

function httpProbe(h: Extract<AppProbe, { httpGet: unknown }>['httpGet'], host: string, finish: Finish): () => void {
  const headers: Record<string, string> = { 'user-agent': PROBE_USER_AGENT, accept: '*/*' };
  for (const { name, value } of h.httpHeaders) headers[name.toLowerCase()] = value;
  const options = {
    host, port: h.port, method: 'GET', path: h.path.startsWith('/') ? h.path : `/${h.path}`, headers, agent: false as const,
  };
  // The kubelet does not verify an HTTPS probe's certificate either.
  const req = h.scheme === 'HTTPS' ? https.request({ ...options, rejectUnauthorized: false }) : http.request(options);
  req.on('response', (res) => {
    const status = res.statusCode ?? 0;
    let read = 0;
    res.on('data', (c: Buffer) => {
      read += c.length;
      if (read > MAX_HTTP_BODY_BYTES) res.destroy();
    });
    const done = () => finish(status >= 200 && status < 400 ? { ok: true, reason: `HTTP ${status}` } : { ok: false, reason: `HTTP ${status}` });
    res.on('end', done);
    res.on('close', done);
  });
  req.on('error', (e: NodeJS.ErrnoException) => finish(failed(`GET ${h.scheme.toLowerCase()}://${formatHostPort(host, h.port)}`, e)));
  req.end();
  return () => req.destroy();
}

function tcpProbe(port: number, host: string, finish: Finish): () => void {
  const socket = net.connect({ host, port });
  socket.once('connect', () => finish({ ok: true, reason: `TCP ${port} accepted` }));
  socket.once('error', (e: NodeJS.ErrnoException) => finish(failed(`TCP ${formatHostPort(host, port)}`, e)));
  return () => socket.destroy();
}

function grpcProbe(g: Extract<AppProbe, { grpc: unknown }>['grpc'], host: string, timeoutMs: number, finish: Finish): () => void {
  // The kubelet's gRPC probe is plaintext; one channel per run, closed after it.
  const client = new HealthClient(formatHostPort(host, g.port), grpc.credentials.createInsecure(), { ...DIRECT_CHANNEL_OPTIONS });
  client.check({ service: g.service ?? '' }, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res?: { status?: string | number }) => {
    if (err) return finish({ ok: false, reason: `gRPC health: ${grpc.status[err.code] ?? err.code} ${cleanGrpcDetails(err.details ?? '')}`.trim() });
    const status = res?.status;
    finish(status === 'SERVING' || status === 1 ? { ok: true, reason: 'gRPC SERVING' } : { ok: false, reason: `gRPC ${String(status ?? 'UNKNOWN')}` });
  });
  return () => client.close();
}
