// Original file: proto/ztmesh/mesh/v1/mesh.proto


export interface PolicySource {
  'principals'?: (string)[];
  'namespaces'?: (string)[];
}

export interface PolicySource__Output {
  'principals': (string)[];
  'namespaces': (string)[];
}
