// Original file: proto/spiffe/workloadapi.proto


export interface X509SVID {
  'spiffeId'?: (string);
  'x509Svid'?: (Buffer | Uint8Array | string);
  'x509SvidKey'?: (Buffer | Uint8Array | string);
  'bundle'?: (Buffer | Uint8Array | string);
  'hint'?: (string);
}

export interface X509SVID__Output {
  'spiffeId': (string);
  'x509Svid': (Buffer);
  'x509SvidKey': (Buffer);
  'bundle': (Buffer);
  'hint': (string);
}
