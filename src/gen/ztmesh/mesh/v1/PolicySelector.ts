// Original file: proto/ztmesh/mesh/v1/mesh.proto


export interface PolicySelector {
  'serviceAccounts'?: (string)[];
}

export interface PolicySelector__Output {
  'serviceAccounts': (string)[];
}
