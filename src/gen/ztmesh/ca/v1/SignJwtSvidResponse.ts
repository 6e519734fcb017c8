// Original file: proto/ztmesh/ca/v1/ca.proto


export interface SignJwtSvidResponse {
  'token'?: (string);
}

export interface SignJwtSvidResponse__Output {
  'token': (string);
}
