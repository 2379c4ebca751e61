// The header of an Error frame is an RpcError message; on the client it becomes an
// AtollError with the same status, so a status crosses the wire unchanged.
import { AtollError } from '../errors/atoll-error.js';
import { isKnownStatus } from '../errors/status-registry.js';
import { RpcError, StatusCode } from '../proto/generated/common.js';

// Long messages are cut so an error frame stays small whatever the handler put in it.
const errorMessageCharsMax = 4096;

/** The RpcError body of an error (in an error frame, or inside an answer that carries several). */
export function rpcErrorOf(status: StatusCode, message: string, leaderHint = '', retryAfterMs = 0): RpcError {
  return {
    code: status,
    message: message.length > errorMessageCharsMax ? `${message.slice(0, errorMessageCharsMax)}...` : message,
    leaderHint,
    retryAfterMs,
  };
}

export function errorFrameHeader(status: StatusCode, message: string, leaderHint = '', retryAfterMs = 0): Uint8Array {
  return RpcError.encode(rpcErrorOf(status, message, leaderHint, retryAfterMs));
}

/** The AtollError an RpcError from a peer stands for. */
export function errorFromRpcError(body: RpcError, context: string): AtollError {
  // A code this build does not know (a newer peer) is reported as INTERNAL, keeping its text.
  const status = isKnownStatus(body.code) ? body.code : StatusCode.INTERNAL;
  return new AtollError(status, `${context}: ${body.message}`, { leaderHint: body.leaderHint, retryAfterMs: body.retryAfterMs, remote: true });
}

export function errorFromFrameHeader(header: Uint8Array, context: string): AtollError {
  let body: RpcError;
  try {
    body = RpcError.decode(header);
  } catch (error) {
    return new AtollError(StatusCode.BAD_FRAME, `${context}: error frame does not decode: ${(error as Error).message}`);
  }
  return errorFromRpcError(body, context);
}
