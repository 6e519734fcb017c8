// Original file: proto/ztmesh/ca/v1/ca.proto


export interface SignCertificateRequest {
  'csr'?: (Buffer | Uint8Array | string);
  'ttlSeconds'?: (number);
}

export interface SignCertificateRequest__Output {
  'csr': (Buffer);
  'ttlSeconds': (number);
}
