// The sidecar's client of the CA: a one-method interface the manager depends on, and its gRPC implementation.
// TLS to the CA is verified against the trust bundle and the CA's SPIFFE ID, never its hostname.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { loadCaProto } from '../common/ca-proto.js';
import { CaClientError } from '../common/errors.js';
import { cleanGrpcDetails, DIRECT_CHANNEL_OPTIONS } from '../common/grpc-channel.js';
import type { Logger } from '../common/logger.js';
import { CA_SERVICE_HOST, caSpiffeId, JOIN_TOKEN_PREFIX, type IssuanceMethod } from '../common/mesh.js';
import { spiffeIdOf } from '../pki/cert-ids.js';
import type { CertificateAuthorityClient } from '../gen/ztmesh/ca/v1/CertificateAuthority.js';
import type { TrustBundle__Output } from '../gen/ztmesh/ca/v1/TrustBundle.js';
import type { JwtAuthority } from '../pki/jwt-authority.js';
import type { MeshClient } from '../gen/ztmesh/mesh/v1/Mesh.js';
import type { MeshRequest } from '../gen/ztmesh/mesh/v1/MeshRequest.js';
import type { MeshUpdate__Output } from '../gen/ztmesh/mesh/v1/MeshUpdate.js';
import type { Svid, TrustBundle } from './credentials.js';

/**
 * What one call presents and trusts, the one way the client gets its credential: the roots that verify the CA, and
 * our SVID as the TLS client certificate when we hold one. Without it a signing call sends the token file.
 */
export interface CaCallAuth {
  roots: TrustBundle;
  svid?: Svid;
}

/** How a signing call proves who we are: the current SVID over mTLS (renewal) or the token file. */
export type SignAuth = ({ method: 'svid'; svid: Svid } | { method: 'token' }) & { roots: TrustBundle };

/** A trust bundle as the CA sends it. */
export interface RawBundle {
  trustDomain: string;
  rootsDer: Buffer[];
  sequence: number;
  /** Cross-certificates vouching for roots the receiver may not trust yet (see decideBundle). */
  crossCertsDer?: Buffer[];
  /** The keys that sign JWT-SVIDs, each signed by the CA (identity/jwt-bundle.ts checks them one by one). */
  jwtAuthorities?: JwtAuthority[];
  /** The CA address it came from, for the log line of a refusal. */
  from?: string;
}

export interface SignResult {
  /** DER, leaf first, root excluded. */
  chainDer: Buffer[];
  /** How we proved ourselves: `renewal` (our SVID), `join_token` or `k8s_token` (the token file). */
  method: IssuanceMethod;
  bundle?: RawBundle;
  /** The CA address that answered. */
  address: string;
}

/** The one thing the identity manager needs from a CA. Errors are CaClientError with a stable code. */
export interface CaClient {
  sign(csrDer: Buffer, ttlSeconds: number, auth: SignAuth): Promise<SignResult>;
}

/** Asks the CA for a JWT-SVID for the ID of our X.509-SVID (sent as the TLS client certificate). Never log the token. */
export interface JwtSvidSigner {
  signJwtSvid(audiences: readonly string[], ttlSeconds: number, auth: CaCallAuth & { svid: Svid }): Promise<{ token: string; address: string }>;
}

/** Handlers of one WatchTrustBundle stream. */
export interface BundleStreamHandlers {
  onBundle(bundle: RawBundle, address: string): void;
  /** The stream ended or failed; `err.code` is stable (`unavailable` when no address answered). */
  onClose(err: CaClientError): void;
}

/** Opens WatchTrustBundle streams; the bundle watcher reconnects through it. The bundle is public: no token is sent. */
export interface BundleStreamSource {
  watchBundle(handlers: BundleStreamHandlers, auth: CaCallAuth): { cancel(): void };
}

/** Handlers of one mesh stream (Mesh.Stream). */
export interface MeshStreamHandlers {
  /** One update as the wire decoded it; the mesh codec judges it. */
  onUpdate(update: MeshUpdate__Output, address: string): void;
  /** The stream ended or failed; `err.code` is stable (`unimplemented`: the CA serves no mesh stream). */
  onClose(err: CaClientError): void;
}

/** One open mesh stream: what the sidecar sends on it (acks, announcements), and how it stops. */
export interface MeshCall {
  send(request: MeshRequest): void;
  cancel(): void;
}

/** Opens mesh streams, authenticated by the SVID in `auth` (the stream takes no token); the mesh client reconnects through it. */
export interface MeshStreamSource {
  openMesh(handlers: MeshStreamHandlers, auth: CaCallAuth, subscribe: MeshRequest): MeshCall;
}

/**
 * Largest mesh update a sidecar takes: a membership snapshot of 10,000 pods and 2,000 Services is about 1 MB; this
 * leaves room for clusters ten times that size. The CA is authenticated; the bound is against a runaway, not a peer.
 */
export const MAX_MESH_UPDATE_BYTES = 32 * 1024 * 1024;

/** Deadline of one SignCertificate call. */
export const SIGN_DEADLINE_MS = 10_000;

const STATUS_CODES: Record<number, string> = {
  [grpc.status.CANCELLED]: 'cancelled',
  [grpc.status.UNKNOWN]: 'unknown',
  [grpc.status.INVALID_ARGUMENT]: 'invalid_argument',
  [grpc.status.DEADLINE_EXCEEDED]: 'deadline_exceeded',
  [grpc.status.NOT_FOUND]: 'not_found',
  [grpc.status.ALREADY_EXISTS]: 'already_exists',
  [grpc.status.PERMISSION_DENIED]: 'permission_denied',
  [grpc.status.RESOURCE_EXHAUSTED]: 'resource_exhausted',
  [grpc.status.FAILED_PRECONDITION]: 'failed_precondition',
  [grpc.status.ABORTED]: 'aborted',
  [grpc.status.OUT_OF_RANGE]: 'out_of_range',
  [grpc.status.UNIMPLEMENTED]: 'unimplemented',
  [grpc.status.INTERNAL]: 'internal',
  [grpc.status.UNAVAILABLE]: 'unavailable',
  [grpc.status.DATA_LOSS]: 'data_loss',
  [grpc.status.UNAUTHENTICATED]: 'unauthenticated',
};

/** Codes after which the next CA address is tried: none answered, or what answered is not a CA we trust. */
export const TRANSPORT_CODES: ReadonlySet<string> = new Set(['unavailable', 'deadline_exceeded', 'ca_identity_mismatch', 'ca_untrusted']);

/**
 * OpenSSL's verification failures as grpc-js words them ("self-signed certificate in certificate chain", "unable to
 * get local issuer certificate", "certificate has expired", …): the CA answered, and its certificate does not verify
 * against our bundle. An alert is the CA refusing us instead, so it does not count.
 */
const UNTRUSTED_CA = /^(?!.*alert).*(self[- ]signed certificate|unable to (get|verify)\b.*certificate|certificate (has expired|is not yet valid|signature failure|chain too long|not trusted|rejected|revoked)|unsupported certificate purpose|invalid CA certificate|path length constraint exceeded)/i;

/** The CA's own stable code, which it puts first in its status details ("identity_mismatch: …"). */
const CA_CODE = /^([a-z][a-z0-9_]{2,63}): /;

/** Maps a gRPC error to a CaClientError with a stable code; the one place this mapping lives. */
export function fromGrpcError(err: grpc.ServiceError, address: string): CaClientError {
  let code = STATUS_CODES[err.code] ?? 'unknown';
  const details = cleanGrpcDetails(err.details || err.message || '').slice(0, 300);
  if (code === 'unavailable' && /ca_identity_mismatch/.test(details)) code = 'ca_identity_mismatch';
  else if (code === 'unavailable' && UNTRUSTED_CA.test(details)) code = 'ca_untrusted';
  const caCode = code === 'ca_identity_mismatch' || code === 'ca_untrusted' ? code : CA_CODE.exec(details)?.[1];
  const e = new CaClientError(code, `CA ${address}: ${details}`, { cause: err });
  if (caCode) e.caCode = caCode;
  return e;
}

/** Converts the wire bundle (as WatchTrustBundle or the mesh codec gives it); sequence arrives as a decimal string. */
export function fromWireBundle(
  b: (Omit<TrustBundle__Output, 'jwtAuthorities'> & { jwtAuthorities?: TrustBundle__Output['jwtAuthorities'] }) | null | undefined,
): RawBundle | undefined {
  if (!b || b.roots.length === 0) return undefined;
  const cross = (b.crossCertificates ?? []).map((c) => Buffer.from(c));
  const jwt: JwtAuthority[] = (b.jwtAuthorities ?? []).map((a) => ({
    keyId: a.keyId, publicKeySpki: Buffer.from(a.publicKey), notAfterMs: Number(a.notAfter) * 1000, signature: Buffer.from(a.signature),
    signerChainDer: a.signerChain.map((c) => Buffer.from(c)),
  }));
  return {
    trustDomain: b.trustDomain, rootsDer: b.roots.map((r) => Buffer.from(r)), sequence: Number(b.sequence),
    ...(cross.length ? { crossCertsDer: cross } : {}), ...(jwt.length ? { jwtAuthorities: jwt } : {}),
  };
}

export interface GrpcCaClientOptions {
  /** Addresses in failover order. */
  addresses: string[];
  trustDomain: string;
  tokenFile: string;
  /** TLS name sent to the CA; default the address's host, or the CA's Service name for an IP address. */
  serverName?: string;
  log: Logger;
  deadlineMs?: number;
}

/** The gRPC client of `ztmesh ca`; a new channel per call because the client certificate changes on rotation. */
export class GrpcCaClient implements CaClient, BundleStreamSource, MeshStreamSource, JwtSvidSigner {
  private readonly ctor: typeof grpc.Client;
  private readonly meshCtor: typeof grpc.Client;
  private readonly expectedId: string;

  constructor(private readonly opts: GrpcCaClientOptions) {
    const { proto } = loadCaProto();
    this.ctor = proto.ztmesh.ca.v1.CertificateAuthority as unknown as typeof grpc.Client;
    this.meshCtor = proto.ztmesh.mesh.v1.Mesh as unknown as typeof grpc.Client;
    this.expectedId = caSpiffeId(opts.trustDomain);
  }

  /** Reads the token file now (it may have been rotated by the kubelet). Never logs its content. */
  private async token(): Promise<string> {
    let text: string;
    try {
      text = await readFile(this.opts.tokenFile, 'utf8');
    } catch (e) {
      throw new CaClientError('token_unreadable', `cannot read token file ${this.opts.tokenFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    const token = text.trim();
    if (!token) throw new CaClientError('token_unreadable', `token file ${this.opts.tokenFile} is empty`);
    return token;
  }

  private client(address: string, auth: CaCallAuth): CertificateAuthorityClient {
    return this.channel(this.ctor, address, auth) as unknown as CertificateAuthorityClient;
  }

  /** A client of `ctor` on a new channel to `address`: TLS with `auth`, the CA checked by its SPIFFE ID. */
  private channel(ctor: typeof grpc.Client, address: string, auth: CaCallAuth, options: grpc.ChannelOptions = {}): grpc.Client {
    const { roots, svid } = auth;
    const creds = grpc.credentials.createSsl(
      Buffer.from(roots.rootsPem),
      svid ? Buffer.from(svid.keyPem) : null,
      svid ? Buffer.from(svid.chainPem) : null,
      {
        checkServerIdentity: (_host, cert) => {
          const id = spiffeIdOf(cert);
          if (id === this.expectedId) return undefined;
          return new Error(`ca_identity_mismatch: the CA presented ${id ?? 'no SPIFFE ID'}, expected ${this.expectedId}`);
        },
      },
    );
    const host = address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const serverName = this.opts.serverName ?? (isIP(host) ? CA_SERVICE_HOST : host);
    return new ctor(address, creds, {
      ...DIRECT_CHANNEL_OPTIONS,
      'grpc.ssl_target_name_override': serverName,
      'grpc.default_authority': serverName,
      'grpc.enable_retries': 0,
      ...options,
    });
  }

  /** One unary call, tried on each address in order until one answers (a refusal is an answer). */
  private async unary<T>(auth: CaCallAuth, call: (client: CertificateAuthorityClient, address: string, deadline: number) => Promise<T>): Promise<T> {
    let last: CaClientError | undefined;
    for (const address of this.opts.addresses) {
      const client = this.client(address, auth);
      try {
        return await call(client, address, Date.now() + (this.opts.deadlineMs ?? SIGN_DEADLINE_MS));
      } catch (e) {
        last = e as CaClientError;
        if (!TRANSPORT_CODES.has(last.code)) throw last;
        this.opts.log.debug({ ca: address, code: last.code }, 'CA address did not answer; trying the next');
      } finally {
        client.close();
      }
    }
    throw last ?? new CaClientError('unavailable', 'no CA address configured');
  }

  async sign(csrDer: Buffer, ttlSeconds: number, auth: SignAuth): Promise<SignResult> {
    const metadata = new grpc.Metadata();
    let method: IssuanceMethod = 'renewal';
    if (auth.method === 'token') {
      const token = await this.token();
      metadata.set('authorization', `Bearer ${token}`);
      method = token.startsWith(JOIN_TOKEN_PREFIX) ? 'join_token' : 'k8s_token';
    }
    const call: CaCallAuth = { roots: auth.roots, ...(auth.method === 'svid' ? { svid: auth.svid } : {}) };
    return this.unary(call, (client, address, deadline) => new Promise<SignResult>((resolve, reject) => {
      client.SignCertificate({ csr: csrDer, ttlSeconds }, metadata, { deadline }, (err, value) => {
        if (err) reject(fromGrpcError(err, address));
        else if (!value) reject(new CaClientError('internal', `CA ${address}: empty response`));
        else {
          const bundle = fromWireBundle(value.trustBundle);
          resolve({ chainDer: value.certChain.map((c) => Buffer.from(c)), method, address, ...(bundle ? { bundle } : {}) });
        }
      });
    }));
  }

  signJwtSvid(audiences: readonly string[], ttlSeconds: number, auth: CaCallAuth & { svid: Svid }): Promise<{ token: string; address: string }> {
    return this.unary(auth, (client, address, deadline) => new Promise((resolve, reject) => {
      client.SignJwtSvid({ audience: [...audiences], ttlSeconds }, new grpc.Metadata(), { deadline }, (err, value) => {
        if (err) reject(fromGrpcError(err, address));
        else if (!value?.token) reject(new CaClientError('internal', `CA ${address}: empty response`));
        else resolve({ token: value.token, address });
      });
    }));
  }

  openMesh(handlers: MeshStreamHandlers, auth: CaCallAuth, subscribe: MeshRequest): MeshCall {
    let current: grpc.ClientDuplexStream<MeshRequest, MeshUpdate__Output> | undefined;
    const stream = this.streamWithFailover(this.meshCtor, auth, { 'grpc.max_receive_message_length': MAX_MESH_UPDATE_BYTES }, handlers.onClose, (client, address, received) => {
      const call = (client as unknown as MeshClient).Stream();
      current = call;
      call.on('data', (u: MeshUpdate__Output) => {
        received();
        handlers.onUpdate(u, address);
      });
      call.write(subscribe);
      return call;
    });
    return {
      send: (request) => { if (current?.writable) current.write(request); },
      cancel: () => stream.cancel(),
    };
  }

  watchBundle(handlers: BundleStreamHandlers, auth: CaCallAuth): { cancel(): void } {
    // The bundle is public: no token is sent (a join token is single-use), only the SVID when we hold one.
    return this.streamWithFailover(this.ctor, auth, {}, handlers.onClose, (client, address, received) => {
      const call = (client as unknown as CertificateAuthorityClient).WatchTrustBundle({});
      call.on('data', (b: TrustBundle__Output) => {
        received();
        const bundle = fromWireBundle(b);
        if (bundle) handlers.onBundle(bundle, address);
      });
      return call;
    });
  }

  /**
   * One server stream with address failover: the next address is tried while the current one fails with a transport
   * code before sending anything; otherwise `onClose` gets the failure (or `unavailable` when the stream just ends).
   */
  private streamWithFailover(
    ctor: typeof grpc.Client, auth: CaCallAuth, options: grpc.ChannelOptions, onClose: (err: CaClientError) => void,
    open: (client: grpc.Client, address: string, received: () => void) => grpc.ClientReadableStream<unknown> | grpc.ClientDuplexStream<unknown, unknown>,
  ): { cancel(): void } {
    let cancelled = false;
    let current: { call: { cancel(): void }; client: grpc.Client } | undefined;
    const tryAddress = (i: number): void => {
      if (cancelled) return;
      const address = this.opts.addresses[i]!;
      let client: grpc.Client;
      try {
        client = this.channel(ctor, address, auth, options);
      } catch (e) {
        onClose(e instanceof CaClientError ? e : new CaClientError('internal', `CA ${address}: ${(e as Error).message}`));
        return;
      }
      let received = false;
      let closed = false;
      const close = (err: CaClientError) => {
        if (closed) return;
        closed = true;
        client.close();
        if (cancelled) return;
        if (!received && TRANSPORT_CODES.has(err.code) && i + 1 < this.opts.addresses.length) tryAddress(i + 1);
        else onClose(err);
      };
      const call = open(client, address, () => { received = true; });
      current = { call, client };
      call.on('error', (err: grpc.ServiceError) => close(fromGrpcError(err, address)));
      call.on('end', () => close(new CaClientError('unavailable', `CA ${address}: stream ended`)));
    };
    tryAddress(0);
    return {
      cancel: () => {
        cancelled = true;
        current?.call.cancel();
        current?.client.close();
      },
    };
  }
}
