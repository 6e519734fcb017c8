// Loads the SPIFFE Workload API's service definition (proto/spiffe/workloadapi.proto, no package) with the loader
// options the generated types in src/gen/spiffe match.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_LOADER_OPTIONS } from '../common/ca-proto.js';
import type { ProtoGrpcType } from '../gen/spiffe/workloadapi.js';

/** Path of workloadapi.proto, valid from both src/ (tests) and dist/ (built CLI). */
export const WORKLOAD_API_PROTO_PATH = fileURLToPath(new URL('../../proto/spiffe/workloadapi.proto', import.meta.url));

/** The typed grpc object of the Workload API (SpiffeWorkloadAPI and its messages). */
export function loadWorkloadApiProto(): ProtoGrpcType {
  return grpc.loadPackageDefinition(protoLoader.loadSync(WORKLOAD_API_PROTO_PATH, PROTO_LOADER_OPTIONS)) as unknown as ProtoGrpcType;
}
