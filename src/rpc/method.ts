// What the RPC layer needs to know of a method: its stable id and how to encode and
// decode its request and response. Generated service tables in src/proto/generated
// provide these; the RPC layer depends on this shape only.
export interface MessageCodec<T> {
  encode(message: T): Uint8Array;
  // Exact encoded size, and encoding into a given buffer: the frame writer uses these to
  // put a header straight into its batch.
  encodedSize(message: T): number;
  encodeInto(message: T, buffer: Uint8Array, offset: number): number;
  decode(bytes: Uint8Array): T;
}

export interface MethodDescriptor<Request, Response> {
  readonly id: number;
  readonly name: string;
  // Fully qualified service name ('atoll.common.Diagnostics'), when generated from proto.
  readonly service?: string;
  readonly request: MessageCodec<Request>;
  readonly response: MessageCodec<Response>;
}

// A handler's result when the response carries bulk bytes beside its header. `onSent`,
// when given, is called once the payload's bytes have left it (copied into a frame batch,
// or written to the socket, or the write failed); never when the answer was not sent at
// all (the payload is then just dropped). A handler may then use its memory again.
export class ReplyWithPayload<Response> {
  constructor(
    readonly response: Response,
    readonly payload: Uint8Array,
    readonly onSent?: () => void,
  ) {}
}

export function withPayload<Response>(response: Response, payload: Uint8Array, onSent?: () => void): ReplyWithPayload<Response> {
  return new ReplyWithPayload(response, payload, onSent);
}

export interface ResponseWithPayload<Response> {
  readonly response: Response;
  readonly payload: Buffer;
}

// 'Diagnostics.Echo': how logs and metrics name a method.
export function methodLabel(method: MethodDescriptor<unknown, unknown>): string {
  if (method.service === undefined) return method.name;
  return `${method.service.slice(method.service.lastIndexOf('.') + 1)}.${method.name}`;
}
