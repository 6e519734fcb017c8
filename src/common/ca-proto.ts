// Loads the CA's gRPC service definition from proto/ (shared by the CA server and the CA client).
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../gen/ca.js';

/** Path of ca.proto, valid from both src/ (tests) and dist/ (built CLI). */
export const CA_PROTO_PATH = fileURLToPath(new URL('../../proto/ztmesh/ca/v1/ca.proto', import.meta.url));

/** Loader options matching the generated types (longs as strings, defaults filled). */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = { longs: String, enums: String, defaults: true, oneofs: true };

/** The loaded package definition and typed grpc object. */
export function loadCaProto(): { packageDefinition: protoLoader.PackageDefinition; proto: ProtoGrpcType } {
  const packageDefinition = protoLoader.loadSync(CA_PROTO_PATH, PROTO_LOADER_OPTIONS);
  return { packageDefinition, proto: grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType };
}

/** Fully qualified gRPC service name, used by health checks. */
export const CA_SERVICE_NAME = 'ztmesh.ca.v1.CertificateAuthority';
