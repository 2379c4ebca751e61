// The Diagnostics service every instance serves: Echo answers with what it was sent,
// payload included. Used for liveness checks over the RPC port and by bench:rpc.
import { Diagnostics, type EchoRequest, type EchoResponse } from '../proto/generated/common.js';
import type { MethodDescriptor } from './method.js';
import type { RpcServer } from './server.js';
import { withPayload } from './method.js';

export const echoMethod: MethodDescriptor<EchoRequest, EchoResponse> = Diagnostics.echo;

export function registerDiagnostics(server: RpcServer): void {
  server.handle(echoMethod, (request, context) =>
    context.payload.length === 0 ? request : withPayload(request, context.payload),
  );
}
