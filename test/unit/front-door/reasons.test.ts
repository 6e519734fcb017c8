// The front door's one classifier of TLS errors: the CA and every sidecar inbound name a failure the same way.
import { describe, expect, it } from 'vitest';
import { handshakeErrorReason, verifyErrorReason } from '../../../src/front-door/reasons.js';

describe('handshakeErrorReason', () => {
  // The sidecar's tlsErrorReason (test/unit/sidecar/reasons.test.ts) delegates here: these are the codes the CA's
  // port used to name in words of its own (plaintext_client, tls_handshake_failed).
  it.each([
    ['ERR_SSL_HTTPS_PROXY_REQUEST', 'not_tls'],
    ['ERR_SSL_UNKNOWN_PROTOCOL', 'not_tls'],
    ['ERR_SSL_PACKET_LENGTH_TOO_LONG', 'not_tls'],
    ['ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'tls_version'],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'peer_alert'],
    ['EPIPE', 'peer_closed'],
    ['ERR_SSL_EXCESSIVE_MESSAGE_SIZE', 'handshake_failed'],
  ])('%s → %s', (code, reason) => {
    expect(handshakeErrorReason(Object.assign(new Error('x'), { code }))).toBe(reason);
  });

  it('names an error without a code handshake_failed, and leaves dial errors to the caller', () => {
    expect(handshakeErrorReason(new Error('x'))).toBe('handshake_failed');
    expect(handshakeErrorReason(null)).toBe('handshake_failed');
    expect(handshakeErrorReason(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('handshake_failed');
  });

  it('maps verification results', () => {
    expect(verifyErrorReason('CERT_NOT_YET_VALID')).toBe('cert_expired');
    expect(verifyErrorReason('UNABLE_TO_GET_ISSUER_CERT')).toBe('untrusted_chain');
  });
});
