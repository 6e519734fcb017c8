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
import type { Ack as _ztmesh_mesh_v1_Ack, Ack__Output as _ztmesh_mesh_v1_Ack__Output } from './ztmesh/mesh/v1/Ack.js';
import type { Announce as _ztmesh_mesh_v1_Announce, Announce__Output as _ztmesh_mesh_v1_Announce__Output } from './ztmesh/mesh/v1/Announce.js';
import type { AuthorizationPolicy as _ztmesh_mesh_v1_AuthorizationPolicy, AuthorizationPolicy__Output as _ztmesh_mesh_v1_AuthorizationPolicy__Output } from './ztmesh/mesh/v1/AuthorizationPolicy.js';
import type { Membership as _ztmesh_mesh_v1_Membership, Membership__Output as _ztmesh_mesh_v1_Membership__Output } from './ztmesh/mesh/v1/Membership.js';
import type { MeshClient as _ztmesh_mesh_v1_MeshClient, MeshDefinition as _ztmesh_mesh_v1_MeshDefinition } from './ztmesh/mesh/v1/Mesh.js';
import type { MeshConfig as _ztmesh_mesh_v1_MeshConfig, MeshConfig__Output as _ztmesh_mesh_v1_MeshConfig__Output } from './ztmesh/mesh/v1/MeshConfig.js';
import type { MeshRequest as _ztmesh_mesh_v1_MeshRequest, MeshRequest__Output as _ztmesh_mesh_v1_MeshRequest__Output } from './ztmesh/mesh/v1/MeshRequest.js';
import type { MeshUpdate as _ztmesh_mesh_v1_MeshUpdate, MeshUpdate__Output as _ztmesh_mesh_v1_MeshUpdate__Output } from './ztmesh/mesh/v1/MeshUpdate.js';
import type { MeshedDestination as _ztmesh_mesh_v1_MeshedDestination, MeshedDestination__Output as _ztmesh_mesh_v1_MeshedDestination__Output } from './ztmesh/mesh/v1/MeshedDestination.js';
import type { PolicyOperation as _ztmesh_mesh_v1_PolicyOperation, PolicyOperation__Output as _ztmesh_mesh_v1_PolicyOperation__Output } from './ztmesh/mesh/v1/PolicyOperation.js';
import type { PolicyRule as _ztmesh_mesh_v1_PolicyRule, PolicyRule__Output as _ztmesh_mesh_v1_PolicyRule__Output } from './ztmesh/mesh/v1/PolicyRule.js';
import type { PolicySelector as _ztmesh_mesh_v1_PolicySelector, PolicySelector__Output as _ztmesh_mesh_v1_PolicySelector__Output } from './ztmesh/mesh/v1/PolicySelector.js';
import type { PolicySet as _ztmesh_mesh_v1_PolicySet, PolicySet__Output as _ztmesh_mesh_v1_PolicySet__Output } from './ztmesh/mesh/v1/PolicySet.js';
import type { PolicySource as _ztmesh_mesh_v1_PolicySource, PolicySource__Output as _ztmesh_mesh_v1_PolicySource__Output } from './ztmesh/mesh/v1/PolicySource.js';
import type { Subscribe as _ztmesh_mesh_v1_Subscribe, Subscribe__Output as _ztmesh_mesh_v1_Subscribe__Output } from './ztmesh/mesh/v1/Subscribe.js';

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
    mesh: {
      v1: {
        Ack: MessageTypeDefinition<_ztmesh_mesh_v1_Ack, _ztmesh_mesh_v1_Ack__Output>
        Announce: MessageTypeDefinition<_ztmesh_mesh_v1_Announce, _ztmesh_mesh_v1_Announce__Output>
        AuthorizationPolicy: MessageTypeDefinition<_ztmesh_mesh_v1_AuthorizationPolicy, _ztmesh_mesh_v1_AuthorizationPolicy__Output>
        Membership: MessageTypeDefinition<_ztmesh_mesh_v1_Membership, _ztmesh_mesh_v1_Membership__Output>
        Mesh: SubtypeConstructor<typeof grpc.Client, _ztmesh_mesh_v1_MeshClient> & { service: _ztmesh_mesh_v1_MeshDefinition }
        MeshConfig: MessageTypeDefinition<_ztmesh_mesh_v1_MeshConfig, _ztmesh_mesh_v1_MeshConfig__Output>
        MeshRequest: MessageTypeDefinition<_ztmesh_mesh_v1_MeshRequest, _ztmesh_mesh_v1_MeshRequest__Output>
        MeshUpdate: MessageTypeDefinition<_ztmesh_mesh_v1_MeshUpdate, _ztmesh_mesh_v1_MeshUpdate__Output>
        MeshedDestination: MessageTypeDefinition<_ztmesh_mesh_v1_MeshedDestination, _ztmesh_mesh_v1_MeshedDestination__Output>
        PolicyOperation: MessageTypeDefinition<_ztmesh_mesh_v1_PolicyOperation, _ztmesh_mesh_v1_PolicyOperation__Output>
        PolicyRule: MessageTypeDefinition<_ztmesh_mesh_v1_PolicyRule, _ztmesh_mesh_v1_PolicyRule__Output>
        PolicySelector: MessageTypeDefinition<_ztmesh_mesh_v1_PolicySelector, _ztmesh_mesh_v1_PolicySelector__Output>
        PolicySet: MessageTypeDefinition<_ztmesh_mesh_v1_PolicySet, _ztmesh_mesh_v1_PolicySet__Output>
        PolicySource: MessageTypeDefinition<_ztmesh_mesh_v1_PolicySource, _ztmesh_mesh_v1_PolicySource__Output>
        Subscribe: MessageTypeDefinition<_ztmesh_mesh_v1_Subscribe, _ztmesh_mesh_v1_Subscribe__Output>
      }
    }
  }
}

