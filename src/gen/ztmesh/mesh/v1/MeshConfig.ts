// Original file: proto/ztmesh/mesh/v1/mesh.proto


export interface MeshConfig {
  'inboundMode'?: (string);
}

export interface MeshConfig__Output {
  'inboundMode': (string);
}
