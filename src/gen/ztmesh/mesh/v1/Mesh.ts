// Original file: proto/ztmesh/mesh/v1/mesh.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { MeshRequest as _ztmesh_mesh_v1_MeshRequest, MeshRequest__Output as _ztmesh_mesh_v1_MeshRequest__Output } from '../../../ztmesh/mesh/v1/MeshRequest.js';
import type { MeshUpdate as _ztmesh_mesh_v1_MeshUpdate, MeshUpdate__Output as _ztmesh_mesh_v1_MeshUpdate__Output } from '../../../ztmesh/mesh/v1/MeshUpdate.js';

export interface MeshClient extends grpc.Client {
  Stream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_ztmesh_mesh_v1_MeshRequest, _ztmesh_mesh_v1_MeshUpdate__Output>;
  Stream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_ztmesh_mesh_v1_MeshRequest, _ztmesh_mesh_v1_MeshUpdate__Output>;
  stream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_ztmesh_mesh_v1_MeshRequest, _ztmesh_mesh_v1_MeshUpdate__Output>;
  stream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_ztmesh_mesh_v1_MeshRequest, _ztmesh_mesh_v1_MeshUpdate__Output>;
  
}

export interface MeshHandlers extends grpc.UntypedServiceImplementation {
  Stream: grpc.handleBidiStreamingCall<_ztmesh_mesh_v1_MeshRequest__Output, _ztmesh_mesh_v1_MeshUpdate>;
  
}

export interface MeshDefinition extends grpc.ServiceDefinition {
  Stream: MethodDefinition<_ztmesh_mesh_v1_MeshRequest, _ztmesh_mesh_v1_MeshUpdate, _ztmesh_mesh_v1_MeshRequest__Output, _ztmesh_mesh_v1_MeshUpdate__Output>
}
