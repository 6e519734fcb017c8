// Original file: proto/ztmesh/mesh/v1/mesh.proto


export interface Ack {
  'kind'?: (string);
  'version'?: (string);
  'applied'?: (boolean);
  'errorCode'?: (string);
  'errorDetail'?: (string);
}

export interface Ack__Output {
  'kind': (string);
  'version': (string);
  'applied': (boolean);
  'errorCode': (string);
  'errorDetail': (string);
}
