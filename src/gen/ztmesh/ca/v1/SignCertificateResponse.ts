// Original file: proto/ztmesh/ca/v1/ca.proto

import type { TrustBundle as _ztmesh_ca_v1_TrustBundle, TrustBundle__Output as _ztmesh_ca_v1_TrustBundle__Output } from '../../../ztmesh/ca/v1/TrustBundle.js';

export interface SignCertificateResponse {
  'certChain'?: (Buffer | Uint8Array | string)[];
  'trustBundle'?: (_ztmesh_ca_v1_TrustBundle | null);
}

export interface SignCertificateResponse__Output {
  'certChain': (Buffer)[];
  'trustBundle': (_ztmesh_ca_v1_TrustBundle__Output | null);
}
