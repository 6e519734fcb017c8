// Original file: proto/ztmesh/ca/v1/ca.proto


export interface SignJwtSvidRequest {
  'audience'?: (string)[];
  'ttlSeconds'?: (number);
}

export interface SignJwtSvidRequest__Output {
  'audience': (string)[];
  'ttlSeconds': (number);
}
