// A CaClient that signs in-process with a test CA at the fake clock's time; scripted failures in between.
import { CaClientError } from '../../src/common/errors.js';
import type { Clock } from '../../src/common/clock.js';
import type { CaClient, RawBundle, SignAuth, SignResult } from '../../src/identity/ca-client.js';
import { issueSvid, parseAndVerifyCsr } from '../../src/pki/index.js';
import type { TestCa } from './pki.js';

export interface FakeCall { ttlSeconds: number; auth: SignAuth['method']; publicKey: string }

export class FakeCaClient implements CaClient {
  readonly calls: FakeCall[] = [];
  /** When set, every call fails with this code (e.g. 'unavailable'); clear it to recover. */
  failWith: string | undefined;
  /** Codes to fail the next calls with, in order, before anything else. */
  readonly script: string[] = [];
  /** Refuse renewals made with an SVID (forces the token fallback). */
  refuseSvid = false;
  bundle: RawBundle | undefined;

  constructor(private readonly ca: TestCa, private readonly clock: Clock, public spiffeId = 'spiffe://cluster.local/ns/default/sa/web') {}

  async sign(csrDer: Buffer, ttlSeconds: number, auth: SignAuth): Promise<SignResult> {
    const csr = parseAndVerifyCsr(csrDer);
    this.calls.push({ ttlSeconds, auth: auth.method, publicKey: csr.spki.toString('hex') });
    const scripted = this.script.shift();
    const code = scripted ?? this.failWith;
    if (code) throw new CaClientError(code, `CA 127.0.0.1:1: scripted ${code}`);
    if (this.refuseSvid && auth.method === 'svid') throw new CaClientError('unauthenticated', 'CA 127.0.0.1:1: svid refused');
    const issued = issueSvid({ spki: csr.spki, spiffeId: this.spiffeId, nowMs: this.clock.now(), ttlMs: ttlSeconds * 1000 }, this.ca.issuer);
    return { chainDer: [issued.der], method: auth.method === 'svid' ? 'renewal' : 'join_token', address: '127.0.0.1:1', ...(this.bundle ? { bundle: this.bundle } : {}) };
  }
}
