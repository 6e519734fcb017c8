// Original file: proto/spiffe/workloadapi.proto


export interface JWTSVIDRequest {
  'audience'?: (string)[];
  'spiffeId'?: (string);
}

export interface JWTSVIDRequest__Output {
  'audience': (string)[];
  'spiffeId': (string);
}
