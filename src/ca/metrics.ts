// The CA's Prometheus metrics, registered on a registry made by the composition root (no global registry).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerBuildInfo } from '../common/build-info.js';

/** Latency buckets for one signature, in seconds. */
export const SIGN_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export interface CaMetrics {
  registry: Registry;
  /** result = "ok" or the stable refusal code. */
  signTotal: Counter<'result'>;
  signDuration: Histogram<'result'>;
  bundleSequence: Gauge;
  servingCertExpiry: Gauge;
  /** Connections closed before gRPC, by reason (front-door/reasons.ts, and not_http2, accept_failed). */
  connectionsRefused: Counter<'reason'>;
  /** Connections held now, by state (handshaking, established); the front door sets it. */
  connections: Gauge<'state'>;
  signingWorkerFailures: Counter;
  /** SignJwtSvid calls by result (ok or the refusal code). */
  jwtSignTotal: Counter<'result'>;
  /** Issuance-log records that could not be written (disk full, file gone), by event. */
  auditRecordsLost: Counter<'event'>;
  /** Live mesh streams (one per connected sidecar). */
  meshStreams: Gauge;
  /** Mesh stream refusals by stable code (a stream ended, an announcement or an ack refused). */
  meshRefusals: Counter<'code'>;
  /** Mesh updates sent, by kind and type (snapshot, delta). */
  meshUpdates: Counter<'kind' | 'type'>;
  /** Mesh acknowledgements received, by kind and result (applied, refused). */
  meshAcks: Counter<'kind' | 'result'>;
  /** Meshed destinations held. */
  membershipEntries: Gauge;
  /** AuthorizationPolicies in force (valid) and refused (invalid). */
  policies: Gauge<'state'>;
}

/** Creates the CA metrics on `registry`. */
export function createCaMetrics(registry: Registry = new Registry()): CaMetrics {
  registerBuildInfo(registry);
  return {
    registry,
    signTotal: new Counter({ name: 'ztmesh_ca_sign_total', help: 'SignCertificate calls by result (ok or refusal code)', labelNames: ['result'], registers: [registry] }),
    signDuration: new Histogram({
      name: 'ztmesh_ca_sign_duration_seconds', help: 'SignCertificate handling time', labelNames: ['result'], buckets: SIGN_DURATION_BUCKETS, registers: [registry],
    }),
    bundleSequence: new Gauge({ name: 'ztmesh_ca_trust_bundle_sequence', help: 'Sequence number of the trust bundle served', registers: [registry] }),
    servingCertExpiry: new Gauge({ name: 'ztmesh_ca_serving_cert_expiry_timestamp_seconds', help: 'notAfter of the CA serving certificate', registers: [registry] }),
    connectionsRefused: new Counter({
      name: 'ztmesh_ca_connections_refused_total', help: 'Connections the CA closed before gRPC, by reason', labelNames: ['reason'], registers: [registry],
    }),
    connections: new Gauge({ name: 'ztmesh_ca_connections', help: 'Connections held on the gRPC port, by state', labelNames: ['state'], registers: [registry] }),
    jwtSignTotal: new Counter({ name: 'ztmesh_ca_jwt_sign_total', help: 'SignJwtSvid calls by result (ok or refusal code)', labelNames: ['result'], registers: [registry] }),
    meshStreams: new Gauge({ name: 'ztmesh_ca_mesh_streams', help: 'Live mesh streams (one per connected sidecar)', registers: [registry] }),
    meshRefusals: new Counter({ name: 'ztmesh_ca_mesh_refusals_total', help: 'Mesh stream refusals by code', labelNames: ['code'], registers: [registry] }),
    meshUpdates: new Counter({ name: 'ztmesh_ca_mesh_updates_total', help: 'Mesh updates sent, by kind and type (snapshot, delta)', labelNames: ['kind', 'type'], registers: [registry] }),
    meshAcks: new Counter({ name: 'ztmesh_ca_mesh_acks_total', help: 'Mesh acknowledgements received, by kind and result (applied, refused)', labelNames: ['kind', 'result'], registers: [registry] }),
    membershipEntries: new Gauge({ name: 'ztmesh_ca_mesh_membership_entries', help: 'Meshed destinations the CA holds', registers: [registry] }),
    policies: new Gauge({ name: 'ztmesh_ca_policies', help: 'AuthorizationPolicies in force (valid) and refused (invalid; the last valid version of each stays)', labelNames: ['state'], registers: [registry] }),
    signingWorkerFailures: new Counter({ name: 'ztmesh_ca_signing_worker_failures_total', help: 'Signing worker threads that stopped or failed their self-test (each is rebuilt with backoff)', registers: [registry] }),
    auditRecordsLost: new Counter({
      name: 'ztmesh_ca_audit_records_lost_total', help: 'Issuance-log records that could not be written (disk full, file gone), by event', labelNames: ['event'], registers: [registry],
    }),
  };
}
