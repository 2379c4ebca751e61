// The part of a structured logger (pino's shape) the RPC layer uses, so that the layer
// can be tested without one and any pino logger can be passed in.
export interface RpcLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const ignore = (): void => {};

export const silentRpcLogger: RpcLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
