// A small HTTPS client for the Kubernetes API server with in-cluster configuration.
// Only what ztmesh needs (TokenReview, PATCHes, lists and watches); the SA token and CA file are re-read on every call.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import { readFile } from 'node:fs/promises';
import { formatHostPort } from '../common/address.js';
import { ConfigError } from '../common/errors.js';
import { ZTMESH_VERSION } from '../common/version.js';

/** In-cluster defaults, as client-go's rest.InClusterConfig reads them. */
export const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const SA_TOKEN_FILE = `${SA_DIR}/token`;
export const SA_CA_FILE = `${SA_DIR}/ca.crt`;
/** A TokenReview is a fast in-memory check for the API server; 5 s means it is in trouble. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

export interface KubeApiConfig {
  /** https://host:port of the API server. */
  server: string;
  /** The caller's own bearer token (the CA's ServiceAccount token), re-read per request. */
  tokenFile: string;
  /** PEM roots that verify the API server. */
  caFile: string;
  /** TLS server name to verify, when it differs from the URL's host. */
  serverName?: string;
  timeoutMs: number;
}

/** Builds the config from KUBERNETES_SERVICE_HOST/PORT and the SA files; each piece can be overridden. */
export function inClusterConfig(
  env: NodeJS.ProcessEnv,
  overrides: { server?: string; tokenFile?: string; caFile?: string; serverName?: string; timeoutMs?: number } = {},
): KubeApiConfig {
  let server = overrides.server;
  if (!server) {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    if (!host) {
      throw new ConfigError('k8s_not_in_cluster', 'no Kubernetes API server: KUBERNETES_SERVICE_HOST is unset (not in a pod?); pass --k8s-api https://host:port');
    }
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
      throw new ConfigError('invalid_port', `KUBERNETES_SERVICE_PORT "${port}" is not a port (0-65535)`);
    }
    server = `https://${formatHostPort(host, Number(port))}`;
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new ConfigError('invalid_flag', `--k8s-api "${server}": not a URL`);
  }
  if (url.protocol !== 'https:') throw new ConfigError('invalid_flag', `--k8s-api "${server}": must be https://`);
  return Object.freeze({
    server: url.origin,
    tokenFile: overrides.tokenFile ?? SA_TOKEN_FILE,
    caFile: overrides.caFile ?? SA_CA_FILE,
    ...(overrides.serverName ? { serverName: overrides.serverName } : {}),
    timeoutMs: overrides.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
  });
}

/** A response from the API server: HTTP status and parsed JSON body (undefined if not JSON). */
export interface KubeResponse {
  status: number;
  body: unknown;
}

/** Thrown when the API server could not be reached or did not answer in time (never carries a token). */
export class KubeUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubeUnreachableError';
  }
}

/** The calls ztmesh makes; an interface so attestor unit tests can fake it. */
export interface KubeClient {
  readonly server: string;
  call(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown, contentType?: string): Promise<KubeResponse>;
  /**
   * Opens a long GET (a watch) and resolves once the status line arrived, with the body still streaming: newline-
   * delimited JSON events on 200, a Status object otherwise. Nothing times it out once open; abort it with `signal`.
   */
  stream(path: string, signal: AbortSignal): Promise<IncomingMessage>;
}

/** The in-cluster TLS and bearer token, read from their files now (the kubelet rotates the token file). */
async function inClusterOptions(config: KubeApiConfig): Promise<RequestOptions> {
  let token: string;
  let ca: Buffer;
  try {
    [token, ca] = await Promise.all([readFile(config.tokenFile, 'utf8'), readFile(config.caFile)]);
  } catch (e) {
    throw new KubeUnreachableError(`cannot read in-cluster credentials (${(e as NodeJS.ErrnoException).code ?? 'error'}: ${(e as NodeJS.ErrnoException).path ?? ''})`, { cause: e });
  }
  return {
    ca,
    ...(config.serverName ? { servername: config.serverName } : {}),
    headers: { authorization: `Bearer ${token.trim()}` },
    // The CA file is the only trust anchor; no agent reuse across changed CA files.
    agent: false,
  };
}

/** Creates a client over node:https for `config`. */
export function createKubeClient(config: KubeApiConfig): KubeClient {
  return {
    server: config.server,
    async call(method, path, body, contentType = 'application/json') {
      return sendKubeRequest(config.server, config.timeoutMs, { method, path, body, contentType }, await inClusterOptions(config));
    },
    async stream(path, signal) {
      return openKubeStream(config.server, config.timeoutMs, path, await inClusterOptions(config), signal);
    },
  };
}

/** One API request: method, path below the server, and an optional JSON body. */
export interface KubeRequest {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  body?: unknown;
  contentType?: string;
}

/**
 * Sends one request to the API server at `server` with the TLS and authentication in `options` (CA, client
 * certificate, Authorization header, agent), and reads the JSON answer. Fails with KubeUnreachableError, never
 * carrying a credential, when there is no answer within `timeoutMs`.
 */
export function sendKubeRequest(server: string, timeoutMs: number, r: KubeRequest, options: RequestOptions): Promise<KubeResponse> {
  return new Promise<KubeResponse>((resolve, reject) => {
    startKubeRequest(server, timeoutMs, r, options, reject, (res, url) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', (e) => reject(new KubeUnreachableError(`${r.method} ${url.pathname}: response aborted: ${e.message}`, { cause: e })));
    });
  });
}

/** How often TCP probes a watch connection that carries nothing, so that a vanished API server is noticed. */
export const STREAM_KEEPALIVE_MS = 30_000;

/**
 * Opens a streaming GET at `server` + `path` with the TLS and authentication in `options`. `timeoutMs` bounds the
 * wait for the status line only; the open stream is bounded by its caller (a watch's own deadline) and TCP keepalive.
 * Fails with KubeUnreachableError, never carrying a credential.
 */
export function openKubeStream(server: string, timeoutMs: number, path: string, options: RequestOptions, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = startKubeRequest(server, timeoutMs, { method: 'GET', path }, { ...options, signal }, reject, (res) => {
      req.setTimeout(0);
      resolve(res);
    });
    req.on('socket', (s) => s.setKeepAlive(true, STREAM_KEEPALIVE_MS));
  });
}

/** The request both of the above send: headers, the `timeoutMs` bound, and errors that name no credential. */
function startKubeRequest(server: string, timeoutMs: number, r: KubeRequest, options: RequestOptions, reject: (e: Error) => void,
  onResponse: (res: IncomingMessage, url: URL) => void): ClientRequest {
  const payload = r.body === undefined ? undefined : Buffer.from(JSON.stringify(r.body));
  const url = new URL(r.path, server);
  const send = url.protocol === 'http:' ? httpRequest : request;
  const req = send(url, {
    ...options,
    method: r.method,
    headers: {
      ...(options.headers as Record<string, string> | undefined),
      accept: 'application/json',
      'user-agent': `ztmesh/${ZTMESH_VERSION}`,
      ...(payload ? { 'content-type': r.contentType ?? 'application/json', 'content-length': String(payload.length) } : {}),
    },
    timeout: timeoutMs,
  }, (res) => onResponse(res, url));
  req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
  req.on('error', (e: NodeJS.ErrnoException) => {
    reject(new KubeUnreachableError(`${r.method} ${url.origin}${url.pathname}: ${e.code ?? ''} ${e.message}`.replace(/\s+/g, ' ').trim(), { cause: e }));
  });
  req.end(payload);
  return req;
}
