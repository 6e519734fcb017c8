// Original file: proto/spiffe/workloadapi.proto


export interface WITSVIDRequest {
  'spiffeId'?: (string);
}

export interface WITSVIDRequest__Output {
  'spiffeId': (string);
}
