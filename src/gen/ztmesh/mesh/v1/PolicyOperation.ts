// Original file: proto/ztmesh/mesh/v1/mesh.proto


export interface PolicyOperation {
  'ports'?: (number)[];
}

export interface PolicyOperation__Output {
  'ports': (number)[];
}
