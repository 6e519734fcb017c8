// Original file: proto/ztmesh/mesh/v1/mesh.proto


export interface MeshedDestination {
  'key'?: (string);
  'cidrs'?: (string)[];
  'ports'?: (number)[];
  'identities'?: (string)[];
}

export interface MeshedDestination__Output {
  'key': (string);
  'cidrs': (string)[];
  'ports': (number)[];
  'identities': (string)[];
}
