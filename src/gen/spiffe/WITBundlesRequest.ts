// Original file: proto/spiffe/workloadapi.proto


export interface WITBundlesRequest {
}

export interface WITBundlesRequest__Output {
}
