// Original file: proto/ztmesh/mesh/v1/mesh.proto

import type { AuthorizationPolicy as _ztmesh_mesh_v1_AuthorizationPolicy, AuthorizationPolicy__Output as _ztmesh_mesh_v1_AuthorizationPolicy__Output } from '../../../ztmesh/mesh/v1/AuthorizationPolicy.js';

export interface PolicySet {
  'defaultPolicy'?: (string);
  'policies'?: (_ztmesh_mesh_v1_AuthorizationPolicy)[];
}

export interface PolicySet__Output {
  'defaultPolicy': (string);
  'policies': (_ztmesh_mesh_v1_AuthorizationPolicy__Output)[];
}
