// A local HTTPS stand-in for the Kubernetes API server that speaks the real JSON: /version, TokenReview,
// SubjectAccessReview and SelfSubjectAccessReview (decided by RBAC from stored roles and bindings, fake-rbac.ts),
// GET, paged lists and watches of stored objects (fake-apiserver-store.ts, fake-apiserver-watch.ts), creates (Events,
// ConfigMaps, ...), the webhook's caBundle JSON Patch and ConfigMap merge patches, GETs through the pods/proxy
// subresource to a stored pod's status.podIP; bearer tokens and client certificates (CN/O) authenticate.
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SignJWT, generateKeyPair, type CryptoKey } from 'jose';
import { makeCa, makeLeaf } from './pki.js';
import { authorize, forbiddenMessage, type AccessAttributes, type KubeUser } from './fake-rbac.js';
import { FakeStore, type ResourceInfo } from './fake-apiserver-store.js';
import { WatchHub } from './fake-apiserver-watch.js';
import { clientCertAuthority, type ClientCertAuthority } from './kube-client-certs.js';
import { tempDir } from './temp-dir.js';

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

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface FakeApiServer {
  /** https://127.0.0.1:<port> */
  url: string;
  /** TLS name in the serving certificate ("localhost"): the URL is an IP, so clients pass it as servername. */
  serverName: string;
  /** PEM root that verifies the stand-in (what a pod finds in ca.crt). */
  caFile: string;
  /** The same root as PEM text (a kubeconfig's certificate-authority-data). */
  caPem: string;
  /** The caller's own token file (a CA pod's ServiceAccount token; also a cluster admin's), accepted as Authorization. */
  tokenFile: string;
  /** That token: it authenticates as kubernetes-admin (group system:masters). */
  adminToken: string;
  requests: RecordedRequest[];
  /** What GET /version answers; tests set e.g. 'v1.28.3'. */
  gitVersion: string;
  /** Mints a signed SA token the stand-in will accept. */
  mintToken(o: { namespace: string; serviceAccount: string; audiences?: string[]; ttlSeconds?: number; pod?: string }): Promise<string>;
  /** Registers an arbitrary (non-SA) user token, e.g. a human's OIDC token. */
  mintUserToken(username: string, audiences?: string[]): Promise<string>;
  /** A bearer token that authenticates API requests as `username` in `groups` (a kubeconfig user's token). */
  addApiUser(username: string, groups?: string[]): string;
  /** A client certificate (CN = username, O = groups) the stand-in accepts, as PEM. */
  clientCert(username: string, groups?: string[]): { certPem: string; keyPem: string };
  /** Makes a token invalid from now on (as when its pod is deleted). */
  revoke(token: string): void;
  /** 'normal'; 'no-audience-check' mimics an authenticator that ignores spec.audiences; 'http-500'/'http-403' fail every call. */
  mode: 'normal' | 'no-audience-check' | 'http-500' | 'http-403';
  /** Stores an object (as `kubectl apply` would), filling in uid, resourceVersion and creationTimestamp. */
  apply(obj: Obj): Obj;
  /** The stored object, or undefined. */
  get(kind: string, name: string, namespace?: string): Obj | undefined;
  /** Deletes a stored object (open watches see DELETED). */
  remove(kind: string, name: string, namespace?: string): void;
  /** Serves a custom resource (as an established CRD would), e.g. ztmesh.io/v1alpha1 authorizationpolicies. */
  defineResource(info: ResourceInfo): void;
  /** The current resourceVersion (etcd's revision). */
  readonly revision: string;
  /** Watches open now. */
  readonly openWatches: number;
  /** Cuts every open watch's connection (clients must resume); returns how many. */
  dropWatches(): number;
  /** Forgets the change history: watches and continue tokens from before now get 410 Gone. */
  compact(): void;
  /** How a too-old watch is refused: an ERROR event with a 410 Status (etcd), or HTTP 410 (the watch cache). */
  goneAs: 'event' | 'http';
  /** Sends a BOOKMARK at the current revision to each open watch that asked for them. */
  sendBookmarks(): void;
  /** Writes a raw line to every open watch (malformed events for the tests). */
  injectWatchLine(text: string): void;
  /** MutatingWebhookConfigurations the webhook may patch, by name. */
  webhookConfigs: Map<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** ConfigMaps by "namespace/name" (GET, POST create, PATCH merge-patch). */
  configMaps: Map<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

/** Parses an API path into what RBAC decides on; undefined for paths outside /api and /apis. */
function attributesOf(method: string, path: string, watch = false): (AccessAttributes & { version: string }) | undefined {
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.*)$/.exec(path.split('?')[0]!);
  if (!m) return undefined;
  const group = m[2] ?? '';
  const version = m[1] ?? m[3]!;
  let parts = m[4]!.split('/').filter(Boolean).map(decodeURIComponent);
  let namespace: string | undefined;
  if (parts[0] === 'namespaces' && parts.length >= 3) {
    namespace = parts[1];
    parts = parts.slice(2);
  }
  const [resource, name, subresource] = parts as [string, string | undefined, string | undefined];
  const verb = method === 'POST' ? 'create' : method === 'PATCH' ? 'patch' : method === 'PUT' ? 'update' : method === 'DELETE' ? 'delete' : name ? 'get' : watch ? 'watch' : 'list';
  return { verb, group, version, resource, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}), ...(subresource ? { subresource } : {}) };
}

/** Starts the stand-in on 127.0.0.1:0. `now` lets tests share a fake clock for token expiry. */
export async function startFakeApiServer(opts: { now?: () => number } = {}): Promise<FakeApiServer> {
  const now = opts.now ?? Date.now;
  const dir = tempDir('ztmesh-fake-apiserver-');
  const ca = makeCa('apiserver.test');
  const serving = makeLeaf(ca, 'spiffe://apiserver.test/kube-apiserver', { dnsNames: ['localhost'], ttlMs: 86_400_000 });
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.certPem);
  let clientCa: ClientCertAuthority | undefined;
  const { privateKey } = await generateKeyPair('ES256');
  const identities = new Map<string, Identity>();
  const callerToken = `caller-${randomUUID()}`;
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${callerToken}\n`);
  const apiUsers = new Map<string, KubeUser>([[callerToken, { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] }]]);
  const store = new FakeStore(now);
  const watches = new WatchHub(store);
  const objectsOf = (kind: string) => store.map(store.infoOfKind(kind));
  const rbac = {
    clusterRoles: objectsOf('ClusterRole'), clusterRoleBindings: objectsOf('ClusterRoleBinding'), roles: objectsOf('Role'), roleBindings: objectsOf('RoleBinding'),
  };

  const sign = (claims: Record<string, unknown>, sub: string, aud: string[], expS: number, key: CryptoKey) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'test' }).setIssuer(API_AUDIENCE).setSubject(sub)
      .setAudience(aud).setIssuedAt(Math.floor(now() / 1000)).setNotBefore(Math.floor(now() / 1000)).setExpirationTime(expS).sign(key);

  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
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
      // Authentication: a bearer token, else a client certificate the stand-in's client CA issued.
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      let user: KubeUser | undefined = bearer !== undefined ? apiUsers.get(bearer) : clientCa?.userOf(req.socket as import('node:tls').TLSSocket);
      if (!user) return status(401, 'Unauthorized', 'Unauthorized');
      if (api.mode === 'http-500') return status(500, 'InternalError', 'Internal error occurred: etcd cluster is unavailable');
      if (api.mode === 'http-403') return status(403, 'Forbidden', 'tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:ztmesh-system:ztmesh-ca" cannot create resource "tokenreviews"');
      const url = new URL(req.url ?? '/', 'https://x');
      if (req.method === 'GET' && url.pathname === '/version') {
        const [, major, minor, patch] = /^v(\d+)\.(\d+)\.(\d+)/.exec(api.gitVersion) ?? [];
        return send(200, {
          major, minor, gitVersion: api.gitVersion, gitCommit: 'f'.repeat(40), gitTreeState: 'clean', buildDate: '2026-10-01T00:00:00Z',
          goVersion: 'go1.24.6', compiler: 'gc', platform: 'linux/amd64', emulationMajor: major, emulationMinor: minor, patch,
        });
      }
      const watch = ['1', 'true'].includes(url.searchParams.get('watch') ?? '');
      const attrs = attributesOf(req.method ?? 'GET', url.pathname, watch);
      if (!attrs) return status(404, 'NotFound', 'the server could not find the requested resource');
      // Every authenticated user may ask what it may do (system:basic-user).
      if (attrs.resource !== 'selfsubjectaccessreviews' && !authorize(rbac, user, attrs).allowed) {
        return status(403, 'Forbidden', forbiddenMessage(user, attrs));
      }
      if (req.method === 'POST' && url.pathname === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
        const ra = body?.spec?.resourceAttributes;
        if (body?.kind !== 'SelfSubjectAccessReview' || !ra) return status(400, 'BadRequest', 'the body of the request was in an unknown format');
        const decision = authorize(rbac, user, { verb: ra.verb, group: ra.group ?? '', resource: ra.resource, namespace: ra.namespace || undefined, name: ra.name || undefined, subresource: ra.subresource || undefined });
        return send(201, { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec: body.spec, status: decision });
      }
      if (req.method === 'POST' && url.pathname === '/apis/authorization.k8s.io/v1/subjectaccessreviews') {
        const ra = body?.spec?.resourceAttributes;
        if (body?.kind !== 'SubjectAccessReview' || !ra || (!body.spec.user && !body.spec.groups)) {
          return status(400, 'BadRequest', 'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified');
        }
        const subject = { username: body.spec.user ?? '', groups: body.spec.groups ?? [] };
        const decision = authorize(rbac, subject, { verb: ra.verb, group: ra.group ?? '', resource: ra.resource, namespace: ra.namespace || undefined, name: ra.name || undefined });
        return send(201, { kind: 'SubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec: body.spec, status: decision });
      }
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
      if (attrs.resource === 'pods' && attrs.subresource === 'proxy' && req.method === 'GET') {
        // GET …/pods/NAME[:PORT]/proxy/PATH: to http://podIP:PORT/PATH with the pod's address as Host, as the real
        // API server does (UseLocationHost); its answer, or 503 when nothing answers there.
        const [podName, port = '80'] = attrs.name!.split(':') as [string, string?];
        const pod = store.map(store.infoOfKind('Pod')).get(store.keyOf(store.infoOfKind('Pod'), podName, attrs.namespace));
        if (!pod) return status(404, 'NotFound', `pods "${podName}" not found`);
        const ip = pod.status?.podIP;
        if (!ip) return status(503, 'ServiceUnavailable', `pod ${podName} has no IP address yet`);
        const rest = url.pathname.slice(url.pathname.indexOf('/proxy') + '/proxy'.length) || '/';
        const host = `${ip}:${port}`;
        const upstream = httpRequest({ host: ip, port: Number(port), path: `${rest}${url.search}`, headers: { host, accept: req.headers.accept ?? '*/*' }, agent: false }, (r) => {
          res.writeHead(r.statusCode ?? 502, { 'content-type': r.headers['content-type'] ?? 'application/octet-stream' });
          r.pipe(res);
        });
        upstream.on('error', (e: NodeJS.ErrnoException) => status(503, 'ServiceUnavailable', `error trying to reach service: dial tcp ${host}: connect: ${e.code === 'ECONNREFUSED' ? 'connection refused' : e.message}`));
        upstream.end();
        return undefined;
      }
      const info = store.infoAt(attrs.group, attrs.version, attrs.resource);
      if (!info || attrs.subresource) return status(404, 'NotFound', 'the server could not find the requested resource');
      const objects = store.map(info);
      const ns = attrs.namespace;
      const collection = attrs.verb === 'list' || attrs.verb === 'watch';
      if (info.namespaced !== (ns !== undefined) && !(collection && info.namespaced)) return status(404, 'NotFound', 'the server could not find the requested resource');
      const notFound = () => status(404, 'NotFound', `${info.resource}${info.group ? `.${info.group}` : ''} "${attrs.name}" not found`);
      const sel = { info, namespace: ns, labelSelector: url.searchParams.get('labelSelector'), fieldSelector: url.searchParams.get('fieldSelector') };
      if (attrs.verb === 'watch') {
        const rv = url.searchParams.get('resourceVersion');
        if (api.goneAs === 'http' && rv && rv !== '0' && Number(rv) < store.compactedRevision) {
          return status(410, 'Expired', `too old resource version: ${rv} (${store.compactedRevision})`);
        }
        const timeout = Number(url.searchParams.get('timeoutSeconds')) || undefined;
        return watches.serve(res, sel, rv, url.searchParams.get('allowWatchBookmarks') === 'true', timeout);
      }
      if (attrs.verb === 'list') {
        let page;
        try {
          page = store.list(sel, Number(url.searchParams.get('limit')) || undefined, url.searchParams.get('continue'));
        } catch {
          return status(400, 'BadRequest', 'continue key is not valid');
        }
        if (page === 'expired') return status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
        const metadata = { resourceVersion: page.resourceVersion, ...(page.continue ? { continue: page.continue } : {}) };
        return send(200, { kind: `${info.kind}List`, apiVersion: info.group ? `${info.group}/${info.version}` : info.version, metadata, items: page.items });
      }
      if (attrs.verb === 'create') {
        if (body?.kind !== info.kind || typeof body?.metadata?.name !== 'string') return status(400, 'BadRequest', `the body must be a ${info.kind} with metadata.name`);
        if (objects.has(store.keyOf(info, body.metadata.name, ns))) return status(409, 'AlreadyExists', `${info.resource} "${body.metadata.name}" already exists`);
        return send(201, store.put(info, { ...body, metadata: { ...body.metadata, namespace: ns } }));
      }
      const current = attrs.name ? objects.get(store.keyOf(info, attrs.name, ns)) : undefined;
      if (!current) return notFound();
      if (attrs.verb === 'get') return send(200, current);
      if (attrs.verb === 'patch' && info.resource === 'mutatingwebhookconfigurations' && req.headers['content-type'] === 'application/json-patch+json' && Array.isArray(body)) {
        const next = structuredClone(current);
        for (const op of body) {
          const m = /^\/webhooks\/(\d+)\/clientConfig\/caBundle$/.exec(op.path);
          if (!m || (op.op !== 'add' && op.op !== 'replace')) return status(422, 'Invalid', `unsupported patch ${JSON.stringify(op)}`);
          next.webhooks[Number(m[1])].clientConfig.caBundle = op.value;
        }
        return send(200, store.put(info, next));
      }
      if (attrs.verb === 'patch' && info.resource === 'configmaps' && req.headers['content-type'] === 'application/merge-patch+json') {
        return send(200, store.put(info, { ...current, data: { ...current.data, ...body.data } }));
      }
      return status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const api: FakeApiServer = {
    url: `https://127.0.0.1:${port}`,
    serverName: 'localhost',
    caFile,
    caPem: ca.certPem,
    tokenFile,
    adminToken: callerToken,
    requests: [],
    gitVersion: 'v1.30.2',
    mode: 'normal',
    webhookConfigs: objectsOf('MutatingWebhookConfiguration'),
    configMaps: objectsOf('ConfigMap'),
    apply: (obj) => store.put(store.infoOfKind(obj.kind), obj),
    get(kind, name, namespace) {
      const info = store.infoOfKind(kind);
      return store.map(info).get(store.keyOf(info, name, namespace));
    },
    remove(kind, name, namespace) {
      store.remove(kind, name, namespace);
    },
    defineResource: (info) => void store.define(info),
    get revision() { return String(store.revision); },
    get openWatches() { return watches.count; },
    dropWatches: () => watches.dropAll(),
    compact: () => store.compact(),
    goneAs: 'event',
    sendBookmarks: () => watches.bookmark(),
    injectWatchLine: (text) => watches.injectLine(text),
    addApiUser(username, groups = []) {
      const token = `user-${randomUUID()}`;
      apiUsers.set(token, { username, groups: [...groups, 'system:authenticated'] });
      return token;
    },
    clientCert(username, groups = []) {
      clientCa ??= clientCertAuthority(dir);
      server.setSecureContext({ cert: serving.certPem, key: serving.keyPem, ca: clientCa.caPem });
      return clientCa.issue(username, groups);
    },
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
      watches.closeAll();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return api;
}
