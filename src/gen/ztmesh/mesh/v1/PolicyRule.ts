// Original file: proto/ztmesh/mesh/v1/mesh.proto

import type { PolicySource as _ztmesh_mesh_v1_PolicySource, PolicySource__Output as _ztmesh_mesh_v1_PolicySource__Output } from '../../../ztmesh/mesh/v1/PolicySource.js';
import type { PolicyOperation as _ztmesh_mesh_v1_PolicyOperation, PolicyOperation__Output as _ztmesh_mesh_v1_PolicyOperation__Output } from '../../../ztmesh/mesh/v1/PolicyOperation.js';

export interface PolicyRule {
  'from'?: (_ztmesh_mesh_v1_PolicySource)[];
  'to'?: (_ztmesh_mesh_v1_PolicyOperation)[];
}

export interface PolicyRule__Output {
  'from': (_ztmesh_mesh_v1_PolicySource__Output)[];
  'to': (_ztmesh_mesh_v1_PolicyOperation__Output)[];
}
