// Original file: proto/ztmesh/ca/v1/ca.proto

import type { Long } from '@grpc/proto-loader';

export interface TrustBundle {
  'trustDomain'?: (string);
  'roots'?: (Buffer | Uint8Array | string)[];
  'sequence'?: (number | string | Long);
  'crossCertificates'?: (Buffer | Uint8Array | string)[];
}

export interface TrustBundle__Output {
  'trustDomain': (string);
  'roots': (Buffer)[];
  'sequence': (string);
  'crossCertificates': (Buffer)[];
}
