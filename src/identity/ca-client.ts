// The sidecar's client of the CA: a one-method interface the manager depends on, and its gRPC implementation.
// TLS to the CA is verified against the trust bundle and the CA's SPIFFE ID, never its hostname.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { loadCaProto } from '../common/ca-proto.js';
import { CaClientError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { CA_SERVICE_HOST, caSpiffeId, JOIN_TOKEN_PREFIX, type IssuanceMethod } from '../common/mesh.js';
import { spiffeIdOf } from '../pki/cert-ids.js';
import type { CertificateAuthorityClient } from '../gen/ztmesh/ca/v1/CertificateAuthority.js';
import type { TrustBundle__Output } from '../gen/ztmesh/ca/v1/TrustBundle.js';
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

/**
 * grpc-js wraps a failed connection as "No connection established. Last error: Error: <why>. Resolution note: ";
 * keep only <why>, the part that means something to an operator.
 */
export function cleanGrpcDetails(details: string): string {
  let d = details.trim();
  const m = /^No connection established\. Last error: (?:Error: )?([\s\S]*?)\.?\s*(?:Resolution note:\s*([\s\S]*))?$/.exec(d);
  if (m) d = `${m[1]!.trim()}${m[2]?.trim() ? ` (${m[2].trim()})` : ''}`;
  const dns = /^Name resolution failed for target dns:(.+)$/.exec(d);
  if (dns) d = `cannot resolve ${dns[1]!.trim()}`;
  return d;
}

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

/** Converts the wire bundle; sequence arrives as a decimal string. */
export function fromWireBundle(b: TrustBundle__Output | null | undefined): RawBundle | undefined {
  if (!b || b.roots.length === 0) return undefined;
  const cross = (b.crossCertificates ?? []).map((c) => Buffer.from(c));
  return { trustDomain: b.trustDomain, rootsDer: b.roots.map((r) => Buffer.from(r)), sequence: Number(b.sequence), ...(cross.length ? { crossCertsDer: cross } : {}) };
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
export class GrpcCaClient implements CaClient, BundleStreamSource {
  private readonly ctor: typeof grpc.Client;
  private readonly expectedId: string;

  constructor(private readonly opts: GrpcCaClientOptions) {
    this.ctor = loadCaProto().proto.ztmesh.ca.v1.CertificateAuthority as unknown as typeof grpc.Client;
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
    return new this.ctor(address, creds, {
      'grpc.ssl_target_name_override': serverName,
      'grpc.default_authority': serverName,
      'grpc.enable_retries': 0,
    }) as unknown as CertificateAuthorityClient;
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
    let last: CaClientError | undefined;
    for (const address of this.opts.addresses) {
      const client = this.client(address, call);
      try {
        const res = await new Promise<SignResult>((resolve, reject) => {
          client.SignCertificate(
            { csr: csrDer, ttlSeconds },
            metadata,
            { deadline: Date.now() + (this.opts.deadlineMs ?? SIGN_DEADLINE_MS) },
            (err, value) => {
              if (err) reject(fromGrpcError(err, address));
              else if (!value) reject(new CaClientError('internal', `CA ${address}: empty response`));
              else {
                const bundle = fromWireBundle(value.trustBundle);
                resolve({ chainDer: value.certChain.map((c) => Buffer.from(c)), method, address, ...(bundle ? { bundle } : {}) });
              }
            },
          );
        });
        return res;
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

  watchBundle(handlers: BundleStreamHandlers, auth: CaCallAuth): { cancel(): void } {
    let cancelled = false;
    let current: { call: grpc.ClientReadableStream<TrustBundle__Output>; client: CertificateAuthorityClient } | undefined;
    const tryAddress = (i: number): void => {
      if (cancelled) return;
      const address = this.opts.addresses[i]!;
      // The bundle is public: no token is sent (a join token is single-use), only the SVID when we hold one.
      let client: CertificateAuthorityClient;
      try {
        client = this.client(address, auth);
      } catch (e) {
        handlers.onClose(e instanceof CaClientError ? e : new CaClientError('internal', `CA ${address}: ${(e as Error).message}`));
        return;
      }
      const call = client.WatchTrustBundle({});
      current = { call, client };
      let received = false;
      let closed = false;
      const close = (err: CaClientError) => {
        if (closed) return;
        closed = true;
        client.close();
        if (cancelled) return;
        if (!received && TRANSPORT_CODES.has(err.code) && i + 1 < this.opts.addresses.length) tryAddress(i + 1);
        else handlers.onClose(err);
      };
      call.on('data', (b: TrustBundle__Output) => {
        received = true;
        const bundle = fromWireBundle(b);
        if (bundle) handlers.onBundle(bundle, address);
      });
      call.on('error', (err: grpc.ServiceError) => close(fromGrpcError(err, address)));
      call.on('end', () => close(new CaClientError('unavailable', `CA ${address}: bundle stream ended`)));
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
