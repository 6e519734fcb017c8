// admission.k8s.io/v1 AdmissionReview → AdmissionReview with a JSONPatch, built from the same pure injectPod
// that `ztmesh inject` uses. Pure apart from the logger: the HTTPS server lives in webhook.ts.
import fastJsonPatch from 'fast-json-patch';
import { ConfigError, describe } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { injectPod, type InjectOptions, type PodLike } from './inject.js';
import { containerCount, MAX_POD_CONTAINERS } from './review-bounds.js';

const { compare } = fastJsonPatch;

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** The fields of an AdmissionRequest the webhook reads. */
export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  resource?: { group?: string; version?: string; resource?: string };
  subResource?: string;
  namespace?: string;
  name?: string;
  operation?: string;
  dryRun?: boolean;
  object?: PodLike;
  userInfo?: { username?: string };
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** base64 of the JSON Patch document. */
  patch?: string;
  status?: { code: number; message: string; reason?: string };
  warnings?: string[];
}

/** What happened to one request, for logs and metrics. */
export type AdmissionOutcome = 'injected' | 'skipped' | 'denied' | 'ignored';

/** Thrown for a body that is not an AdmissionReview; the server answers HTTP 400. */
export class BadAdmissionReview extends Error {}

/** Validates the envelope of a parsed AdmissionReview request body. */
export function parseAdmissionReview(body: unknown): AdmissionReview & { request: AdmissionRequest } {
  const r = body as AdmissionReview | undefined;
  if (!r || typeof r !== 'object') throw new BadAdmissionReview('body is not a JSON object');
  if (r.apiVersion !== ADMISSION_API_VERSION || r.kind !== 'AdmissionReview') {
    throw new BadAdmissionReview(`expected ${ADMISSION_API_VERSION} AdmissionReview, got ${String(r.apiVersion)} ${String(r.kind)}`);
  }
  if (!r.request || typeof r.request.uid !== 'string' || r.request.uid === '') throw new BadAdmissionReview('request.uid is missing');
  return r as AdmissionReview & { request: AdmissionRequest };
}

/**
 * Decides one admission request. Pods that should not be injected (opted out, hostNetwork, already injected,
 * or not a pod CREATE at all) are allowed with no patch; a malformed ztmesh.io/* annotation is denied with
 * a message naming it, so `kubectl apply` shows the user what to fix.
 */
export function review(
  req: AdmissionRequest,
  options: InjectOptions,
  log: Logger,
): { response: AdmissionResponse; outcome: AdmissionOutcome; reason?: string } {
  const base = { uid: req.uid, allowed: true };
  const who = { uid: req.uid, namespace: req.namespace, pod: req.name ?? (req.object?.metadata as { generateName?: string } | undefined)?.generateName };
  const isPodCreate = req.kind?.kind === 'Pod' && (req.resource?.resource ?? 'pods') === 'pods' && !req.subResource && req.operation === 'CREATE';
  if (!isPodCreate || !req.object) {
    log.debug({ ...who, kind: req.kind?.kind, operation: req.operation }, 'admission: not a pod creation, allowed unchanged');
    return { response: base, outcome: 'ignored' };
  }
  const containers = containerCount(req.object);
  if (containers > MAX_POD_CONTAINERS) {
    // Injection's cost grows with the pod (review-bounds.ts): refuse before doing any of it.
    const message = `the pod has ${containers} containers (containers, initContainers and ephemeralContainers together); ztmesh injects pods of at most ${MAX_POD_CONTAINERS}`;
    log.warn({ ...who, code: 'too_many_containers', containers }, `admission: denied: ${message}`);
    return { response: { ...base, allowed: false, status: { code: 400, reason: 'BadRequest', message: `ztmesh: ${message}` } }, outcome: 'denied', reason: 'too_many_containers' };
  }
  let result;
  try {
    result = injectPod(req.object, options);
  } catch (e) {
    const { code, message } = describe(e);
    if (e instanceof ConfigError) {
      log.warn({ ...who, code }, `admission: denied: ${message}`);
      return { response: { ...base, allowed: false, status: { code: 400, reason: 'BadRequest', message: `ztmesh: ${message}` } }, outcome: 'denied', reason: code };
    }
    log.error({ ...who, code }, `admission: injection failed: ${message}`);
    return { response: { ...base, allowed: false, status: { code: 500, reason: 'InternalError', message: `ztmesh: injection failed: ${message}` } }, outcome: 'denied', reason: code };
  }
  if (result.outcome === 'skipped') {
    log.info({ ...who, reason: result.reason }, 'admission: pod not injected');
    return { response: base, outcome: 'skipped', reason: result.reason };
  }
  const patch = compare(req.object as object, result.pod as object);
  log.info({ ...who, ops: patch.length, dryRun: req.dryRun === true }, 'admission: pod injected');
  return {
    response: {
      ...base, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
      // kubectl prints these to the user who created the workload.
      ...(result.warnings.length ? { warnings: result.warnings.map((w) => `ztmesh: ${w}`) } : {}),
    },
    outcome: 'injected',
  };
}

/** Wraps a response in the AdmissionReview envelope the API server expects back. */
export function reviewResponse(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}
