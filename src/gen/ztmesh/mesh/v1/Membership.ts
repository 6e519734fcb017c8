// Original file: proto/ztmesh/mesh/v1/mesh.proto

import type { MeshedDestination as _ztmesh_mesh_v1_MeshedDestination, MeshedDestination__Output as _ztmesh_mesh_v1_MeshedDestination__Output } from '../../../ztmesh/mesh/v1/MeshedDestination.js';

export interface Membership {
  'upsert'?: (_ztmesh_mesh_v1_MeshedDestination)[];
  'remove'?: (string)[];
}

export interface Membership__Output {
  'upsert': (_ztmesh_mesh_v1_MeshedDestination__Output)[];
  'remove': (string)[];
}
