// Original file: proto/ztmesh/mesh/v1/mesh.proto


export interface Subscribe {
  'kinds'?: (string)[];
  'sidecarVersion'?: (string);
  'addresses'?: (string)[];
}

export interface Subscribe__Output {
  'kinds': (string)[];
  'sidecarVersion': (string);
  'addresses': (string)[];
}
