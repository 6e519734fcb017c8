import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { CertificateAuthorityClient as _ztmesh_ca_v1_CertificateAuthorityClient, CertificateAuthorityDefinition as _ztmesh_ca_v1_CertificateAuthorityDefinition } from './ztmesh/ca/v1/CertificateAuthority.js';
import type { JwtAuthority as _ztmesh_ca_v1_JwtAuthority, JwtAuthority__Output as _ztmesh_ca_v1_JwtAuthority__Output } from './ztmesh/ca/v1/JwtAuthority.js';
import type { SignCertificateRequest as _ztmesh_ca_v1_SignCertificateRequest, SignCertificateRequest__Output as _ztmesh_ca_v1_SignCertificateRequest__Output } from './ztmesh/ca/v1/SignCertificateRequest.js';
import type { SignCertificateResponse as _ztmesh_ca_v1_SignCertificateResponse, SignCertificateResponse__Output as _ztmesh_ca_v1_SignCertificateResponse__Output } from './ztmesh/ca/v1/SignCertificateResponse.js';
import type { SignJwtSvidRequest as _ztmesh_ca_v1_SignJwtSvidRequest, SignJwtSvidRequest__Output as _ztmesh_ca_v1_SignJwtSvidRequest__Output } from './ztmesh/ca/v1/SignJwtSvidRequest.js';
import type { SignJwtSvidResponse as _ztmesh_ca_v1_SignJwtSvidResponse, SignJwtSvidResponse__Output as _ztmesh_ca_v1_SignJwtSvidResponse__Output } from './ztmesh/ca/v1/SignJwtSvidResponse.js';
import type { TrustBundle as _ztmesh_ca_v1_TrustBundle, TrustBundle__Output as _ztmesh_ca_v1_TrustBundle__Output } from './ztmesh/ca/v1/TrustBundle.js';
import type { WatchTrustBundleRequest as _ztmesh_ca_v1_WatchTrustBundleRequest, WatchTrustBundleRequest__Output as _ztmesh_ca_v1_WatchTrustBundleRequest__Output } from './ztmesh/ca/v1/WatchTrustBundleRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  ztmesh: {
    ca: {
      v1: {
        CertificateAuthority: SubtypeConstructor<typeof grpc.Client, _ztmesh_ca_v1_CertificateAuthorityClient> & { service: _ztmesh_ca_v1_CertificateAuthorityDefinition }
        JwtAuthority: MessageTypeDefinition<_ztmesh_ca_v1_JwtAuthority, _ztmesh_ca_v1_JwtAuthority__Output>
        SignCertificateRequest: MessageTypeDefinition<_ztmesh_ca_v1_SignCertificateRequest, _ztmesh_ca_v1_SignCertificateRequest__Output>
        SignCertificateResponse: MessageTypeDefinition<_ztmesh_ca_v1_SignCertificateResponse, _ztmesh_ca_v1_SignCertificateResponse__Output>
        SignJwtSvidRequest: MessageTypeDefinition<_ztmesh_ca_v1_SignJwtSvidRequest, _ztmesh_ca_v1_SignJwtSvidRequest__Output>
        SignJwtSvidResponse: MessageTypeDefinition<_ztmesh_ca_v1_SignJwtSvidResponse, _ztmesh_ca_v1_SignJwtSvidResponse__Output>
        TrustBundle: MessageTypeDefinition<_ztmesh_ca_v1_TrustBundle, _ztmesh_ca_v1_TrustBundle__Output>
        WatchTrustBundleRequest: MessageTypeDefinition<_ztmesh_ca_v1_WatchTrustBundleRequest, _ztmesh_ca_v1_WatchTrustBundleRequest__Output>
      }
    }
  }
}

