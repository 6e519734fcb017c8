// The one mapping from TLS and socket errors to the data path's stable reason codes.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REASONS, tlsErrorReason, verifyErrorReason } from '../../../src/sidecar/reasons.js';

describe('tlsErrorReason', () => {
  it.each([
    ['ERR_SSL_HTTP_REQUEST', 'not_tls'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'not_tls'],
    ['ERR_SSL_UNSUPPORTED_PROTOCOL', 'tls_version'],
    ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'tls_version'],
    ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'no_client_cert'],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', 'handshake_timeout'],
    ['CERT_HAS_EXPIRED', 'cert_expired'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'untrusted_chain'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'untrusted_chain'],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'peer_alert'],
    ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'peer_alert'],
    ['ECONNRESET', 'peer_closed'],
    ['ECONNREFUSED', 'upstream_unavailable'],
    ['server_id_mismatch', 'server_id_mismatch'],
    ['ERR_SOMETHING_ELSE', 'handshake_failed'],
  ])('%s → %s', (code, reason) => {
    expect(tlsErrorReason(Object.assign(new Error('x'), { code }))).toBe(reason);
  });

  it('maps a value without a code to handshake_failed', () => {
    expect(tlsErrorReason(new Error('x'))).toBe(REASONS.handshakeFailed);
    expect(tlsErrorReason(undefined)).toBe(REASONS.handshakeFailed);
  });

  it('maps verification results', () => {
    expect(verifyErrorReason('CERT_HAS_EXPIRED')).toBe('cert_expired');
    expect(verifyErrorReason('CERT_NOT_YET_VALID')).toBe('cert_expired');
    expect(verifyErrorReason('UNABLE_TO_GET_ISSUER_CERT')).toBe('untrusted_chain');
    expect(verifyErrorReason(undefined)).toBe('untrusted_chain');
  });
});

describe('docs/datapath.md', () => {
  const read = (name: string) => readFileSync(fileURLToPath(new URL(`../../../docs/${name}`, import.meta.url)), 'utf8');
  const codesIn = (text: string) => new Set([...text.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]));
  const datapath = codesIn(read('datapath.md'));
  // The front door's admission caps, which only the CA sets (a sidecar listener's cap is max_connections): design.md.
  const caOnly = ['connection_limit', 'source_connection_limit'];

  it('documents every reason code the data path can log (a code it lacks is found missing)', () => {
    expect(datapath.has('handoff_refused')).toBe(true);
    expect(datapath.has('no_such_code')).toBe(false);
    expect(Object.values(REASONS).filter((r) => !datapath.has(r) && !caOnly.includes(r))).toEqual([]);
    const design = codesIn(read('design.md'));
    expect(caOnly.filter((r) => !design.has(r))).toEqual([]);
  });
});
