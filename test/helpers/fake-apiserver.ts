// A local HTTPS stand-in for the Kubernetes API server that speaks real authentication.k8s.io/v1 TokenReview
// JSON (and the admissionregistration PATCH the webhook sends), mints ServiceAccount-style JWTs, and records requests.
import { createServer, type Server } from 'node:https';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SignJWT, generateKeyPair, type CryptoKey } from 'jose';
import { makeCa, makeLeaf } from './pki.js';

/** The API server's default audience, used when a TokenReview names none. */
export const API_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

interface Identity {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
  audiences: string[];
  expMs: number;
}

export interface FakeApiServer {
  /** https://127.0.0.1:<port> */
  url: string;
  /** TLS name in the serving certificate ("localhost"): the URL is an IP, so clients pass it as servername. */
  serverName: string;
  /** PEM root that verifies the stand-in (what a pod finds in ca.crt). */
  caFile: string;
  /** The caller's own ServiceAccount token file (what the CA pod has mounted), accepted as Authorization. */
  tokenFile: string;
  requests: RecordedRequest[];
  /** Mints a signed SA token the stand-in will accept. */
  mintToken(o: { namespace: string; serviceAccount: string; audiences?: string[]; ttlSeconds?: number; pod?: string }): Promise<string>;
  /** Registers an arbitrary (non-SA) user token, e.g. a human's OIDC token. */
  mintUserToken(username: string, audiences?: string[]): Promise<string>;
  /** Makes a token invalid from now on (as when its pod is deleted). */
  revoke(token: string): void;
  /** 'normal'; 'no-audience-check' mimics an authenticator that ignores spec.audiences; 'http-500'/'http-403' fail every call. */
  mode: 'normal' | 'no-audience-check' | 'http-500' | 'http-403';
  /** MutatingWebhookConfigurations the webhook may patch, by name. */
  webhookConfigs: Map<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** ConfigMaps by "namespace/name" (GET, POST create, PATCH merge-patch). */
  configMaps: Map<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

/** Starts the stand-in on 127.0.0.1:0. `now` lets tests share a fake clock for token expiry. */
export async function startFakeApiServer(opts: { now?: () => number } = {}): Promise<FakeApiServer> {
  const now = opts.now ?? Date.now;
  const dir = mkdtempSync(join(tmpdir(), 'ztmesh-fake-apiserver-'));
  const ca = makeCa('apiserver.test');
  const serving = makeLeaf(ca, 'spiffe://apiserver.test/kube-apiserver', { dnsNames: ['localhost'], ttlMs: 86_400_000 });
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.certPem);
  const { privateKey } = await generateKeyPair('ES256');
  const identities = new Map<string, Identity>();
  const callerToken = `caller-${randomUUID()}`;
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${callerToken}\n`);

  const sign = (claims: Record<string, unknown>, sub: string, aud: string[], expS: number, key: CryptoKey) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'test' }).setIssuer(API_AUDIENCE).setSubject(sub)
      .setAudience(aud).setIssuedAt(Math.floor(now() / 1000)).setNotBefore(Math.floor(now() / 1000)).setExpirationTime(expS).sign(key);

  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
      try { body = text ? JSON.parse(text) : undefined; } catch { body = text; }
      api.requests.push({ method: req.method!, path: req.url!, authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
      const send = (code: number, obj: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      const status = (code: number, reason: string, message: string) =>
        send(code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
      if (req.headers.authorization !== `Bearer ${callerToken}`) return status(401, 'Unauthorized', 'Unauthorized');
      if (api.mode === 'http-500') return status(500, 'InternalError', 'Internal error occurred: etcd cluster is unavailable');
      if (api.mode === 'http-403') return status(403, 'Forbidden', 'tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:ztmesh-system:ztmesh-ca" cannot create resource "tokenreviews"');
      if (req.method === 'POST' && req.url === '/apis/authentication.k8s.io/v1/tokenreviews') {
        if (body?.apiVersion !== 'authentication.k8s.io/v1' || body?.kind !== 'TokenReview' || typeof body?.spec?.token !== 'string') {
          return status(400, 'BadRequest', 'the body of the request was in an unknown format');
        }
        const requested: string[] = body.spec.audiences?.length ? body.spec.audiences : [API_AUDIENCE];
        const review = { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec: body.spec };
        const id = identities.get(body.spec.token);
        const fail = (error: string) => send(201, { ...review, status: { user: {}, error } });
        if (!id) return fail('[invalid bearer token, square/go-jose: error in cryptographic primitive]');
        if (id.expMs <= now()) return fail('[invalid bearer token, service account token has expired]');
        // An authenticator that ignores spec.audiences answers with its own default audience.
        const overlap = api.mode === 'no-audience-check' ? [API_AUDIENCE] : id.audiences.filter((a) => requested.includes(a));
        if (overlap.length === 0) return fail(`[invalid bearer token, token audiences ${JSON.stringify(id.audiences)} is invalid for the target audiences ${JSON.stringify(requested)}]`);
        return send(201, { ...review, status: { authenticated: true, user: { username: id.username, uid: id.uid, groups: id.groups, extra: id.extra }, audiences: overlap } });
      }
      const mwc = /^\/apis\/admissionregistration\.k8s\.io\/v1\/mutatingwebhookconfigurations\/([^/?]+)$/.exec(req.url ?? '');
      if (mwc) {
        const current = api.webhookConfigs.get(mwc[1]!);
        if (!current) return status(404, 'NotFound', `mutatingwebhookconfigurations.admissionregistration.k8s.io "${mwc[1]}" not found`);
        if (req.method === 'GET') return send(200, current);
        if (req.method === 'PATCH' && req.headers['content-type'] === 'application/json-patch+json' && Array.isArray(body)) {
          const next = structuredClone(current);
          for (const op of body) {
            const m = /^\/webhooks\/(\d+)\/clientConfig\/caBundle$/.exec(op.path);
            if (!m || (op.op !== 'add' && op.op !== 'replace')) return status(422, 'Invalid', `unsupported patch ${JSON.stringify(op)}`);
            next.webhooks[Number(m[1])].clientConfig.caBundle = op.value;
          }
          api.webhookConfigs.set(mwc[1]!, next);
          return send(200, next);
        }
      }
      const cm = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps(?:\/([^/?]+))?$/.exec(req.url ?? '');
      if (cm) {
        const [, ns, name] = cm as unknown as [string, string, string | undefined];
        if (req.method === 'POST' && !name) {
          const key = `${ns}/${body?.metadata?.name}`;
          if (api.configMaps.has(key)) return status(409, 'AlreadyExists', `configmaps "${body.metadata.name}" already exists`);
          const created = { ...body, metadata: { ...body.metadata, namespace: ns, uid: randomUUID(), resourceVersion: '1' } };
          api.configMaps.set(key, created);
          return send(201, created);
        }
        const current = name ? api.configMaps.get(`${ns}/${name}`) : undefined;
        if (!current) return status(404, 'NotFound', `configmaps "${name}" not found`);
        if (req.method === 'GET') return send(200, current);
        if (req.method === 'PATCH' && req.headers['content-type'] === 'application/merge-patch+json') {
          const next = { ...current, data: { ...current.data, ...body.data }, metadata: { ...current.metadata, resourceVersion: String(Number(current.metadata.resourceVersion) + 1) } };
          api.configMaps.set(`${ns}/${name}`, next);
          return send(200, next);
        }
      }
      return status(404, 'NotFound', 'the server could not find the requested resource');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const api: FakeApiServer = {
    url: `https://127.0.0.1:${port}`,
    serverName: 'localhost',
    caFile,
    tokenFile,
    requests: [],
    mode: 'normal',
    webhookConfigs: new Map(),
    configMaps: new Map(),
    async mintToken({ namespace, serviceAccount, audiences = ['ztmesh-ca'], ttlSeconds = 3600, pod = `${serviceAccount}-0` }) {
      const expS = Math.floor(now() / 1000) + ttlSeconds;
      const podUid = randomUUID();
      const saUid = randomUUID();
      const username = `system:serviceaccount:${namespace}:${serviceAccount}`;
      const token = await sign({ 'kubernetes.io': { namespace, pod: { name: pod, uid: podUid }, serviceaccount: { name: serviceAccount, uid: saUid } } },
        username, audiences, expS, privateKey);
      identities.set(token, {
        username, uid: saUid, audiences, expMs: expS * 1000,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
        extra: { 'authentication.kubernetes.io/pod-name': [pod], 'authentication.kubernetes.io/pod-uid': [podUid] },
      });
      return token;
    },
    async mintUserToken(username, audiences = ['ztmesh-ca']) {
      const expS = Math.floor(now() / 1000) + 3600;
      const token = await sign({ email: `${username}@example.com` }, username, audiences, expS, privateKey);
      identities.set(token, { username, uid: randomUUID(), audiences, expMs: expS * 1000, groups: ['system:authenticated'], extra: {} });
      return token;
    },
    revoke(token) {
      identities.delete(token);
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return api;
}
