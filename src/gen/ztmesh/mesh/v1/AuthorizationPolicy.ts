// Original file: proto/ztmesh/mesh/v1/mesh.proto

import type { PolicySelector as _ztmesh_mesh_v1_PolicySelector, PolicySelector__Output as _ztmesh_mesh_v1_PolicySelector__Output } from '../../../ztmesh/mesh/v1/PolicySelector.js';
import type { PolicyRule as _ztmesh_mesh_v1_PolicyRule, PolicyRule__Output as _ztmesh_mesh_v1_PolicyRule__Output } from '../../../ztmesh/mesh/v1/PolicyRule.js';

export interface AuthorizationPolicy {
  'namespace'?: (string);
  'name'?: (string);
  'action'?: (string);
  'dryRun'?: (boolean);
  'selector'?: (_ztmesh_mesh_v1_PolicySelector | null);
  'rules'?: (_ztmesh_mesh_v1_PolicyRule)[];
}

export interface AuthorizationPolicy__Output {
  'namespace': (string);
  'name': (string);
  'action': (string);
  'dryRun': (boolean);
  'selector': (_ztmesh_mesh_v1_PolicySelector__Output | null);
  'rules': (_ztmesh_mesh_v1_PolicyRule__Output)[];
}
