// Original file: proto/spiffe/workloadapi.proto


export interface X509SVIDRequest {
}

export interface X509SVIDRequest__Output {
}
