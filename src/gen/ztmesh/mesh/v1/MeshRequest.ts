// Original file: proto/ztmesh/mesh/v1/mesh.proto

import type { Subscribe as _ztmesh_mesh_v1_Subscribe, Subscribe__Output as _ztmesh_mesh_v1_Subscribe__Output } from '../../../ztmesh/mesh/v1/Subscribe.js';
import type { Ack as _ztmesh_mesh_v1_Ack, Ack__Output as _ztmesh_mesh_v1_Ack__Output } from '../../../ztmesh/mesh/v1/Ack.js';
import type { Announce as _ztmesh_mesh_v1_Announce, Announce__Output as _ztmesh_mesh_v1_Announce__Output } from '../../../ztmesh/mesh/v1/Announce.js';

export interface MeshRequest {
  'subscribe'?: (_ztmesh_mesh_v1_Subscribe | null);
  'ack'?: (_ztmesh_mesh_v1_Ack | null);
  'announce'?: (_ztmesh_mesh_v1_Announce | null);
  'request'?: "subscribe"|"ack"|"announce";
}

export interface MeshRequest__Output {
  'subscribe'?: (_ztmesh_mesh_v1_Subscribe__Output | null);
  'ack'?: (_ztmesh_mesh_v1_Ack__Output | null);
  'announce'?: (_ztmesh_mesh_v1_Announce__Output | null);
  'request'?: "subscribe"|"ack"|"announce";
}
