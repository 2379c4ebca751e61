/**
 * Protobuf wire types: the low 3 bits of every field tag, telling the decoder how to
 * find the end of a field it does not know.
 */
export const WireType = {
  varint: 0,
  fixed64: 1,
  lengthDelimited: 2,
  startGroup: 3,
  endGroup: 4,
  fixed32: 5,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

/** Field numbers are 29-bit; 19000..19999 are reserved by protobuf itself. */
export const fieldNumberMax = 0x1fff_ffff;

/** The tag of a field as written on the wire. */
export function makeTag(fieldNumber: number, wireType: WireType): number {
  return ((fieldNumber << 3) | wireType) >>> 0;
}
