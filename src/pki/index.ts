// The pki part's public surface: pure certificate, key, CSR and SPIFFE ID functions.
export * from './spiffe-id.js';
export * from './keys.js';
export * from './csr.js';
export * from './pem.js';
export * from './certificate.js';
export * from './issuer.js';
export * from './svid.js';
export * from './cert-ids.js';
export * from './verify.js';
export * from './leaf-svid.js';
export * from './key-usage.js';
export * from './cross-cert.js';
export * from './fingerprint.js';
export * from './root-succession.js';
