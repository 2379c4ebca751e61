/**
 * Protobuf runtime for AtollFS generated code (see tools/protogen and proto/README.md).
 * Applications use the generated codecs; the reader, writer and size functions are
 * exported for generated code.
 */
export { ProtoDecodeError, ProtoEncodeError, ProtoErrorCode, unknownOneofCase } from './errors.js';
export { emptyBytes } from './empty-bytes.js';
export type { MessageCodec, MessageOf, MethodDescriptor, ServiceDefinition } from './message-codec.js';
export { decodeMessage, encodeMessage, encodeMessageInto, encodedMessageSize } from './encode-decode.js';
export { ProtoReader } from './reader.js';
export { ProtoWriter } from './writer.js';
export {
  enumSize,
  fixed32Size,
  fixed64Size,
  int32Size,
  int64Size,
  lengthDelimitedSize,
  sfixed32Size,
  sfixed64Size,
  sint32Size,
  sint64Size,
  uint32Size,
  uint64Size,
  varint32Size,
} from './field-size.js';
export { utf8ByteLength } from './utf8.js';
export { messageBytesMax, nestingDepthMax } from './limits.js';
export { WireType, makeTag } from './wire-type.js';
