// Original file: proto/ztmesh/ca/v1/ca.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { SignCertificateRequest as _ztmesh_ca_v1_SignCertificateRequest, SignCertificateRequest__Output as _ztmesh_ca_v1_SignCertificateRequest__Output } from '../../../ztmesh/ca/v1/SignCertificateRequest.js';
import type { SignCertificateResponse as _ztmesh_ca_v1_SignCertificateResponse, SignCertificateResponse__Output as _ztmesh_ca_v1_SignCertificateResponse__Output } from '../../../ztmesh/ca/v1/SignCertificateResponse.js';
import type { SignJwtSvidRequest as _ztmesh_ca_v1_SignJwtSvidRequest, SignJwtSvidRequest__Output as _ztmesh_ca_v1_SignJwtSvidRequest__Output } from '../../../ztmesh/ca/v1/SignJwtSvidRequest.js';
import type { SignJwtSvidResponse as _ztmesh_ca_v1_SignJwtSvidResponse, SignJwtSvidResponse__Output as _ztmesh_ca_v1_SignJwtSvidResponse__Output } from '../../../ztmesh/ca/v1/SignJwtSvidResponse.js';
import type { TrustBundle as _ztmesh_ca_v1_TrustBundle, TrustBundle__Output as _ztmesh_ca_v1_TrustBundle__Output } from '../../../ztmesh/ca/v1/TrustBundle.js';
import type { WatchTrustBundleRequest as _ztmesh_ca_v1_WatchTrustBundleRequest, WatchTrustBundleRequest__Output as _ztmesh_ca_v1_WatchTrustBundleRequest__Output } from '../../../ztmesh/ca/v1/WatchTrustBundleRequest.js';

export interface CertificateAuthorityClient extends grpc.Client {
  SignCertificate(argument: _ztmesh_ca_v1_SignCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ztmesh_ca_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  SignCertificate(argument: _ztmesh_ca_v1_SignCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ztmesh_ca_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  SignCertificate(argument: _ztmesh_ca_v1_SignCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ztmesh_ca_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  SignCertificate(argument: _ztmesh_ca_v1_SignCertificateRequest, callback: grpc.requestCallback<_ztmesh_ca_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  signCertificate(argument: _ztmesh_ca_v1_SignCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ztmesh_ca_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  signCertificate(argument: _ztmesh_ca_v1_SignCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ztmesh_ca_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  signCertificate(argument: _ztmesh_ca_v1_SignCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ztmesh_ca_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  signCertificate(argument: _ztmesh_ca_v1_SignCertificateRequest, callback: grpc.requestCallback<_ztmesh_ca_v1_SignCertificateResponse__Output>): grpc.ClientUnaryCall;
  
  SignJwtSvid(argument: _ztmesh_ca_v1_SignJwtSvidRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ztmesh_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  SignJwtSvid(argument: _ztmesh_ca_v1_SignJwtSvidRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ztmesh_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  SignJwtSvid(argument: _ztmesh_ca_v1_SignJwtSvidRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ztmesh_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  SignJwtSvid(argument: _ztmesh_ca_v1_SignJwtSvidRequest, callback: grpc.requestCallback<_ztmesh_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  signJwtSvid(argument: _ztmesh_ca_v1_SignJwtSvidRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ztmesh_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  signJwtSvid(argument: _ztmesh_ca_v1_SignJwtSvidRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ztmesh_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  signJwtSvid(argument: _ztmesh_ca_v1_SignJwtSvidRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ztmesh_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  signJwtSvid(argument: _ztmesh_ca_v1_SignJwtSvidRequest, callback: grpc.requestCallback<_ztmesh_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  
  WatchTrustBundle(argument: _ztmesh_ca_v1_WatchTrustBundleRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_ztmesh_ca_v1_TrustBundle__Output>;
  WatchTrustBundle(argument: _ztmesh_ca_v1_WatchTrustBundleRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_ztmesh_ca_v1_TrustBundle__Output>;
  watchTrustBundle(argument: _ztmesh_ca_v1_WatchTrustBundleRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_ztmesh_ca_v1_TrustBundle__Output>;
  watchTrustBundle(argument: _ztmesh_ca_v1_WatchTrustBundleRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_ztmesh_ca_v1_TrustBundle__Output>;
  
}

export interface CertificateAuthorityHandlers extends grpc.UntypedServiceImplementation {
  SignCertificate: grpc.handleUnaryCall<_ztmesh_ca_v1_SignCertificateRequest__Output, _ztmesh_ca_v1_SignCertificateResponse>;
  
  SignJwtSvid: grpc.handleUnaryCall<_ztmesh_ca_v1_SignJwtSvidRequest__Output, _ztmesh_ca_v1_SignJwtSvidResponse>;
  
  WatchTrustBundle: grpc.handleServerStreamingCall<_ztmesh_ca_v1_WatchTrustBundleRequest__Output, _ztmesh_ca_v1_TrustBundle>;
  
}

export interface CertificateAuthorityDefinition extends grpc.ServiceDefinition {
  SignCertificate: MethodDefinition<_ztmesh_ca_v1_SignCertificateRequest, _ztmesh_ca_v1_SignCertificateResponse, _ztmesh_ca_v1_SignCertificateRequest__Output, _ztmesh_ca_v1_SignCertificateResponse__Output>
  SignJwtSvid: MethodDefinition<_ztmesh_ca_v1_SignJwtSvidRequest, _ztmesh_ca_v1_SignJwtSvidResponse, _ztmesh_ca_v1_SignJwtSvidRequest__Output, _ztmesh_ca_v1_SignJwtSvidResponse__Output>
  WatchTrustBundle: MethodDefinition<_ztmesh_ca_v1_WatchTrustBundleRequest, _ztmesh_ca_v1_TrustBundle, _ztmesh_ca_v1_WatchTrustBundleRequest__Output, _ztmesh_ca_v1_TrustBundle__Output>
}
