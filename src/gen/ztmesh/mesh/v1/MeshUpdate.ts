// Original file: proto/ztmesh/mesh/v1/mesh.proto

import type { TrustBundle as _ztmesh_ca_v1_TrustBundle, TrustBundle__Output as _ztmesh_ca_v1_TrustBundle__Output } from '../../../ztmesh/ca/v1/TrustBundle.js';
import type { Membership as _ztmesh_mesh_v1_Membership, Membership__Output as _ztmesh_mesh_v1_Membership__Output } from '../../../ztmesh/mesh/v1/Membership.js';
import type { MeshConfig as _ztmesh_mesh_v1_MeshConfig, MeshConfig__Output as _ztmesh_mesh_v1_MeshConfig__Output } from '../../../ztmesh/mesh/v1/MeshConfig.js';
import type { PolicySet as _ztmesh_mesh_v1_PolicySet, PolicySet__Output as _ztmesh_mesh_v1_PolicySet__Output } from '../../../ztmesh/mesh/v1/PolicySet.js';

export interface MeshUpdate {
  'kind'?: (string);
  'version'?: (string);
  'baseVersion'?: (string);
  'trustBundle'?: (_ztmesh_ca_v1_TrustBundle | null);
  'membership'?: (_ztmesh_mesh_v1_Membership | null);
  'config'?: (_ztmesh_mesh_v1_MeshConfig | null);
  'policy'?: (_ztmesh_mesh_v1_PolicySet | null);
  'body'?: "trustBundle"|"membership"|"config"|"policy";
}

export interface MeshUpdate__Output {
  'kind': (string);
  'version': (string);
  'baseVersion': (string);
  'trustBundle'?: (_ztmesh_ca_v1_TrustBundle__Output | null);
  'membership'?: (_ztmesh_mesh_v1_Membership__Output | null);
  'config'?: (_ztmesh_mesh_v1_MeshConfig__Output | null);
  'policy'?: (_ztmesh_mesh_v1_PolicySet__Output | null);
  'body'?: "trustBundle"|"membership"|"config"|"policy";
}
