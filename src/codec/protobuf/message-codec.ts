/**
 * The shape of generated code: one MessageCodec per message and one service table per
 * service. Generated modules are the only producers; everything else consumes these types.
 */
import type { ProtoReader } from './reader.js';
import type { ProtoWriter } from './writer.js';

export interface MessageCodec<T> {
  /** Fully qualified protobuf name, e.g. `atoll.master.CreateVolumeRequest`. */
  readonly typeName: string;
  /** A message with every field at its proto3 default, overridden by `partial`. */
  create(partial?: Partial<T>): T;
  /** Encodes into a new buffer of exactly the encoded size. */
  encode(message: T): Uint8Array;
  /** Exact number of bytes `encode` would produce; also range-checks every value. */
  encodedSize(message: T): number;
  /**
   * Encodes into `buffer` at `offset` and returns the offset after the message.
   * Throws ProtoEncodeError, writing nothing, if the message does not fit.
   */
  encodeInto(message: T, buffer: Uint8Array, offset: number): number;
  /**
   * Decodes a whole buffer. `bytes` fields of the result are views of `bytes`
   * (zero-copy): copy them if the input buffer will be reused.
   */
  decode(bytes: Uint8Array): T;

  /** Size pass used by generated code of enclosing messages. Not for application use. */
  readonly measure: (message: T, writer: ProtoWriter) => number;
  /** Write pass used by generated code of enclosing messages. Not for application use. */
  readonly write: (message: T, writer: ProtoWriter) => void;
  /** Reads fields up to `reader.limit`. Not for application use. */
  readonly read: (reader: ProtoReader) => T;
}

/** The message type a codec encodes. */
export type MessageOf<C> = C extends MessageCodec<infer T> ? T : never;

/** One RPC method of a generated service table. */
export interface MethodDescriptor<Request, Response> {
  /** Wire id, declared in the .proto with `option (method_id) = N;`; stable across edits. */
  readonly id: number;
  /** Method name as written in the .proto, e.g. `CreateVolume`. */
  readonly name: string;
  /** Fully qualified service name, e.g. `atoll.master.MasterService`. */
  readonly service: string;
  readonly request: MessageCodec<Request>;
  readonly response: MessageCodec<Response>;
}

/** A generated service table: method name (lowerCamelCase) to descriptor. */
export type ServiceDefinition = Readonly<Record<string, MethodDescriptor<any, any>>>;
