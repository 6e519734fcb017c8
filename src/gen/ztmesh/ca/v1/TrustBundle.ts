// Original file: proto/ztmesh/ca/v1/ca.proto

import type { JwtAuthority as _ztmesh_ca_v1_JwtAuthority, JwtAuthority__Output as _ztmesh_ca_v1_JwtAuthority__Output } from '../../../ztmesh/ca/v1/JwtAuthority.js';
import type { Long } from '@grpc/proto-loader';

export interface TrustBundle {
  'trustDomain'?: (string);
  'roots'?: (Buffer | Uint8Array | string)[];
  'sequence'?: (number | string | Long);
  'crossCertificates'?: (Buffer | Uint8Array | string)[];
  'jwtAuthorities'?: (_ztmesh_ca_v1_JwtAuthority)[];
}

export interface TrustBundle__Output {
  'trustDomain': (string);
  'roots': (Buffer)[];
  'sequence': (string);
  'crossCertificates': (Buffer)[];
  'jwtAuthorities': (_ztmesh_ca_v1_JwtAuthority__Output)[];
}
