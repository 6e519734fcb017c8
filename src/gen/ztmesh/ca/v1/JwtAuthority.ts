// Original file: proto/ztmesh/ca/v1/ca.proto

import type { Long } from '@grpc/proto-loader';

export interface JwtAuthority {
  'keyId'?: (string);
  'publicKey'?: (Buffer | Uint8Array | string);
  'notAfter'?: (number | string | Long);
  'signature'?: (Buffer | Uint8Array | string);
  'signerChain'?: (Buffer | Uint8Array | string)[];
}

export interface JwtAuthority__Output {
  'keyId': (string);
  'publicKey': (Buffer);
  'notAfter': (string);
  'signature': (Buffer);
  'signerChain': (Buffer)[];
}
