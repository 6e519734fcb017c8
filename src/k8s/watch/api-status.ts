// Turns what the API server answered (an HTTP status and its Status object, or a watch ERROR event) into a
// KubeApiError with a stable code and a message that says what to fix. Pure; messages never carry a credential.
import { KubeApiError } from '../../common/errors.js';

/** The stable codes of KubeApiError (docs/design.md "Kubernetes watches"). */
export const KUBE_API_CODES = {
  /** 403: RBAC does not grant the verb on the resource. */
  forbidden: 'kube_forbidden',
  /** 401: the token or client certificate was not accepted. */
  unauthorized: 'kube_unauthorized',
  /** 404: the API server does not serve the resource (a CRD not installed, a wrong group or version). */
  notFound: 'kube_not_found',
  /** 410: the resourceVersion (or a list's continue token) is older than the server's history; relist. */
  gone: 'kube_gone',
  /** No answer: connection refused or lost, TLS failure, timeout, unreadable credentials. */
  unreachable: 'kube_unreachable',
  /** An answer that is not what the API sends: a list without items, an event line that is not an event. */
  malformed: 'kube_malformed',
  /** Any other refusal (5xx, 429, 422...). */
  apiError: 'kube_api_error',
} as const;

/** The longest part of the API server's own message kept in an error (a Status message is not ours to bound). */
export const MAX_STATUS_MESSAGE = 300;

/** What was attempted, for the message: a verb on a resource in a scope. */
export interface ApiAction {
  verb: string;
  /** Plural resource name, as RBAC rules name it. */
  resource: string;
  group: string;
  /** "in namespace shop", "at the cluster scope". */
  scope: string;
}

/** The `message`, `reason` and `code` of a Status object, when `body` is one. */
export function statusOf(body: unknown): { code?: number; reason?: string; message?: string } {
  if (!body || typeof body !== 'object') return {};
  const b = body as Record<string, unknown>;
  return {
    ...(typeof b.code === 'number' ? { code: b.code } : {}),
    ...(typeof b.reason === 'string' ? { reason: b.reason } : {}),
    ...(typeof b.message === 'string' ? { message: b.message.slice(0, MAX_STATUS_MESSAGE) } : {}),
  };
}

/** The error for HTTP status `status` (or a watch ERROR's code) with Status body `body`, for `action`. */
export function apiError(action: ApiAction, status: number, body: unknown): KubeApiError {
  const s = statusOf(body);
  const said = s.message ? `: ${s.message}` : '';
  const what = `${action.verb} ${action.group ? `${action.resource}.${action.group}` : action.resource} ${action.scope}`;
  let err: KubeApiError;
  if (status === 403) {
    err = new KubeApiError(KUBE_API_CODES.forbidden,
      `cannot ${what}: forbidden; grant verb "${action.verb}" on resource "${action.resource}" in API group "${action.group}" to this ServiceAccount${said}`);
  } else if (status === 401) {
    err = new KubeApiError(KUBE_API_CODES.unauthorized, `cannot ${what}: the API server did not accept our credentials (401)${said}`);
  } else if (status === 404) {
    err = new KubeApiError(KUBE_API_CODES.notFound, `cannot ${what}: the API server does not serve this resource (is its CRD installed?)${said}`);
  } else if (status === 410) {
    err = new KubeApiError(KUBE_API_CODES.gone, `${what}: resourceVersion too old (410 Gone)${said}`);
  } else {
    err = new KubeApiError(KUBE_API_CODES.apiError, `cannot ${what}: HTTP ${status}${s.reason ? ` ${s.reason}` : ''}${said}`);
  }
  err.httpStatus = status;
  return err;
}
