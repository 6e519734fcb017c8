// Original file: proto/spiffe/workloadapi.proto


export interface WITSVID {
  'spiffeId'?: (string);
  'witSvid'?: (string);
  'witSvidKey'?: (string);
  'hint'?: (string);
}

export interface WITSVID__Output {
  'spiffeId': (string);
  'witSvid': (string);
  'witSvidKey': (string);
  'hint': (string);
}
