// Original file: proto/ztmesh/ca/v1/ca.proto


export interface WatchTrustBundleRequest {
}

export interface WatchTrustBundleRequest__Output {
}
