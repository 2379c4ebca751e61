/**
 * Limits of the protobuf codec. Every loop in the decoder is bounded by the input
 * length; these bound what the input length alone does not.
 */

/**
 * Largest encoded message, in bytes. Protobuf length prefixes are 32-bit and the
 * reference implementations refuse 2 GiB and above, so we do too.
 */
export const messageBytesMax = 0x7fff_ffff;

/**
 * Deepest nesting of length-delimited messages (and groups) the decoder follows.
 * Without it a few kilobytes of `0x0a 0x..` prefixes would overflow the JS stack and
 * surface as a RangeError instead of a ProtoDecodeError. 100 matches protobuf C++/Java.
 */
export const nestingDepthMax = 100;

/** A varint never takes more than 10 bytes (64 bits in 7-bit groups). */
export const varintBytesMax = 10;

// Checked at load so a bad edit fails loudly instead of silently weakening a bound.
if (!(messageBytesMax > 0 && messageBytesMax <= 0x7fff_ffff)) {
  throw new Error(`protobuf limits: messageBytesMax must fit a signed 32-bit length: ${messageBytesMax}`);
}
if (!(nestingDepthMax >= 1 && nestingDepthMax <= 1000)) {
  throw new Error(`protobuf limits: nestingDepthMax out of range: ${nestingDepthMax}`);
}
