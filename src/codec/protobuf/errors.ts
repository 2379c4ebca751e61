/**
 * Errors raised by the protobuf codec.
 *
 * Decode failures are expected errors (a peer or a disk handed us bad bytes), so they
 * carry a stable `code` the RPC layer can map to a status; encode failures are almost
 * always a caller bug (a value that does not fit its field), but they are still thrown
 * as a typed error so a server can reject one request instead of crashing.
 */

/** Stable error codes of the protobuf codec. */
export const ProtoErrorCode = {
  /** The bytes are not a valid encoding of the expected message. */
  decode: 'ATOLL_ERR_PROTO_DECODE',
  /** A value cannot be encoded in its field (range, type or size). */
  encode: 'ATOLL_ERR_PROTO_ENCODE',
} as const;

/** Thrown when bytes cannot be decoded as the expected message. */
export class ProtoDecodeError extends Error {
  readonly code = ProtoErrorCode.decode;
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(`decode protobuf: ${message}: at byte ${offset}`);
    this.name = 'ProtoDecodeError';
    this.offset = offset;
  }
}

/** Thrown when a message cannot be encoded, before any byte of it is written. */
export class ProtoEncodeError extends Error {
  readonly code = ProtoErrorCode.encode;

  constructor(message: string) {
    super(`encode protobuf: ${message}`);
    this.name = 'ProtoEncodeError';
  }
}

/** For generated code: a oneof holding a case its message does not declare. */
export function unknownOneofCase(oneof: string, value: unknown): ProtoEncodeError {
  const found = (value as { case?: unknown } | null)?.case;
  return new ProtoEncodeError(`${oneof}: unknown oneof case ${JSON.stringify(found) ?? String(found)}`);
}
