// One error class per failure domain, each carrying a stable string code.
// Codes are part of the operator contract: logs, /status and tests match on them.

/** Base class: a stable machine-readable code, a human message and an optional cause. */
export class ZtmeshError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Invalid configuration: names the key, the value and the reason. */
export class ConfigError extends ZtmeshError {}

/** Certificates, keys, CSRs and SPIFFE IDs that are malformed or fail verification. */
export class PkiError extends ZtmeshError {}

/** A caller could not prove its identity to the CA (maps to UNAUTHENTICATED/PERMISSION_DENIED). */
export class AttestationError extends ZtmeshError {}

/** A request that is well formed but not allowed (identity mismatch, rate limit, TTL). */
export class PolicyError extends ZtmeshError {}

/** A root rotation step (`ztmesh ca root …`) that cannot be taken with the CA's files as they are, or not yet. */
export class RotationError extends ZtmeshError {}

/** An issuance log whose hash chain is broken: a line altered, removed or reordered. */
export class AuditLogError extends ZtmeshError {}

/** The data path refused or lost a connection; code is the reason label. */
export class ProxyError extends ZtmeshError {}

/** A Workload API call refused or failed (missing header, caller not admitted, no SVID yet, bad request, bad token). */
export class WorkloadApiError extends ZtmeshError {}

/** The sidecar could not get a certificate from the CA; code is the CA's refusal or a transport error. */
export class CaClientError extends ZtmeshError {
  /** The CA's own stable code for a refusal (e.g. `identity_mismatch`), when it sent one. */
  caCode?: string;
}

/**
 * A Kubernetes API list, watch or write that failed: `kube_forbidden`, `kube_unauthorized`, `kube_not_found`,
 * `kube_unreachable`, `kube_malformed`, `kube_api_error` (see k8s/watch/api-status.ts). Never carries a token.
 */
export class KubeApiError extends ZtmeshError {
  /** The HTTP status (or a watch ERROR event's code) when the API server answered. */
  httpStatus?: number;
}

/** Wraps any thrown value with what we were doing, keeping its code if it has one. */
export function describe(err: unknown): { code: string; message: string } {
  if (err instanceof ZtmeshError) return { code: err.code, message: err.message };
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return { code: (err as { code: string }).code, message: String((err as unknown as Error).message ?? err) };
  }
  return { code: 'internal', message: err instanceof Error ? err.message : String(err) };
}

/** Marks a state that should be impossible; always a bug in ztmesh. */
export function bug(message: string): never {
  throw new Error(`BUG: ${message}`);
}
