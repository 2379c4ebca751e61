export { RpcServer, shuttingDownMessage, type RpcServerOptions, type CallContext, type Handler } from './server.js';
export { RpcClient, type RpcClientOptions, type CallOptions } from './client.js';
export { callOutcomeUnknownSuffix, parseAddress } from './client-connection.js';
export { withPayload, ReplyWithPayload, type MethodDescriptor, type MessageCodec, type ResponseWithPayload } from './method.js';
export { rpcLimits, defaultRpcLimits, type RpcLimits } from './limits.js';
export { silentRpcLogger, type RpcLogger } from './logger.js';
export { FrameKind } from './frame.js';
export { echoMethod, registerDiagnostics } from './diagnostics.js';
export { errorFromRpcError, rpcErrorOf } from './error-frame.js';
