// Original file: proto/ztmesh/mesh/v1/mesh.proto


export interface Announce {
  'addresses'?: (string)[];
}

export interface Announce__Output {
  'addresses': (string)[];
}
