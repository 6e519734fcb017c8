// Loads the CA's gRPC service definitions from proto/ (shared by the CA server and its clients): the
// CertificateAuthority (ca.proto) and the mesh stream (mesh.proto, which imports ca.proto's TrustBundle).
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../gen/mesh.js';

/** The proto/ directory, valid from both src/ (tests) and dist/ (built CLI): the include root of every import. */
export const PROTO_ROOT = fileURLToPath(new URL('../../proto', import.meta.url));
/** The files served, relative to PROTO_ROOT (as they import each other). */
export const PROTO_FILES = ['ztmesh/ca/v1/ca.proto', 'ztmesh/mesh/v1/mesh.proto'] as const;
/** Path of ca.proto. */
export const CA_PROTO_PATH = `${PROTO_ROOT}/${PROTO_FILES[0]}`;

/** Loader options matching the generated types (longs as strings, defaults filled). */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = { longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_ROOT] };

/** The loaded package definition and typed grpc object (both services). */
export function loadCaProto(): { packageDefinition: protoLoader.PackageDefinition; proto: ProtoGrpcType } {
  const packageDefinition = protoLoader.loadSync([...PROTO_FILES], PROTO_LOADER_OPTIONS);
  return { packageDefinition, proto: grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType };
}

/** Fully qualified gRPC service names, used by health checks. */
export const CA_SERVICE_NAME = 'ztmesh.ca.v1.CertificateAuthority';
export const MESH_SERVICE_NAME = 'ztmesh.mesh.v1.Mesh';
