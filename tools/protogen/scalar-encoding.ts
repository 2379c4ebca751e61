/**
 * How each scalar type is represented in TypeScript and handled on the wire by the
 * generated code: one table, so measure, write and read cannot disagree.
 */
import type { ScalarType } from './ast.js';

export interface ScalarEncoding {
  readonly typeScriptType: 'number' | 'boolean' | 'string' | 'Uint8Array';
  readonly wireType: 0 | 1 | 2 | 5;
  /** ProtoWriter method that writes the value (after the tag). */
  readonly writeMethod: string;
  /** ProtoReader method that reads the value. */
  readonly readMethod: string;
  /**
   * Runtime size function that also range-checks the value; undefined when every JS
   * value of the TypeScript type encodes (double, float, bool) or for strings/bytes.
   */
  readonly checkedSizeFunction: string | undefined;
  /** Bytes per value for fixed-width types. */
  readonly fixedBytes: number | undefined;
}

const varint = 0;
const fixed64 = 1;
const lengthDelimited = 2;
const fixed32 = 5;

export const scalarEncodings: Readonly<Record<ScalarType, ScalarEncoding>> = {
  double: { typeScriptType: 'number', wireType: fixed64, writeMethod: 'double', readMethod: 'double', checkedSizeFunction: undefined, fixedBytes: 8 },
  float: { typeScriptType: 'number', wireType: fixed32, writeMethod: 'float', readMethod: 'float', checkedSizeFunction: undefined, fixedBytes: 4 },
  int32: { typeScriptType: 'number', wireType: varint, writeMethod: 'int32', readMethod: 'int32', checkedSizeFunction: 'int32Size', fixedBytes: undefined },
  int64: { typeScriptType: 'number', wireType: varint, writeMethod: 'int64', readMethod: 'int64', checkedSizeFunction: 'int64Size', fixedBytes: undefined },
  uint32: { typeScriptType: 'number', wireType: varint, writeMethod: 'varint32', readMethod: 'uint32', checkedSizeFunction: 'uint32Size', fixedBytes: undefined },
  uint64: { typeScriptType: 'number', wireType: varint, writeMethod: 'uint64', readMethod: 'uint64', checkedSizeFunction: 'uint64Size', fixedBytes: undefined },
  sint32: { typeScriptType: 'number', wireType: varint, writeMethod: 'sint32', readMethod: 'sint32', checkedSizeFunction: 'sint32Size', fixedBytes: undefined },
  sint64: { typeScriptType: 'number', wireType: varint, writeMethod: 'sint64', readMethod: 'sint64', checkedSizeFunction: 'sint64Size', fixedBytes: undefined },
  fixed32: { typeScriptType: 'number', wireType: fixed32, writeMethod: 'fixed32', readMethod: 'fixed32', checkedSizeFunction: 'fixed32Size', fixedBytes: 4 },
  sfixed32: { typeScriptType: 'number', wireType: fixed32, writeMethod: 'sfixed32', readMethod: 'sfixed32', checkedSizeFunction: 'sfixed32Size', fixedBytes: 4 },
  fixed64: { typeScriptType: 'number', wireType: fixed64, writeMethod: 'fixed64', readMethod: 'fixed64', checkedSizeFunction: 'fixed64Size', fixedBytes: 8 },
  sfixed64: { typeScriptType: 'number', wireType: fixed64, writeMethod: 'fixed64', readMethod: 'sfixed64', checkedSizeFunction: 'sfixed64Size', fixedBytes: 8 },
  bool: { typeScriptType: 'boolean', wireType: varint, writeMethod: 'bool', readMethod: 'bool', checkedSizeFunction: undefined, fixedBytes: 1 },
  string: { typeScriptType: 'string', wireType: lengthDelimited, writeMethod: 'string', readMethod: 'string', checkedSizeFunction: undefined, fixedBytes: undefined },
  bytes: { typeScriptType: 'Uint8Array', wireType: lengthDelimited, writeMethod: 'bytesField', readMethod: 'bytesField', checkedSizeFunction: undefined, fixedBytes: undefined },
};

/** Enums travel as int32 varints. */
export const enumEncoding: ScalarEncoding = {
  typeScriptType: 'number',
  wireType: varint,
  writeMethod: 'int32',
  readMethod: 'enumValue',
  checkedSizeFunction: 'enumSize',
  fixedBytes: undefined,
};

/** The bytes of a field tag as a varint. */
export function tagBytes(fieldNumber: number, wireType: number): number[] {
  let tag = ((fieldNumber << 3) | wireType) >>> 0;
  const bytes: number[] = [];
  while (tag > 0x7f) {
    bytes.push((tag & 0x7f) | 0x80);
    tag >>>= 7;
  }
  bytes.push(tag);
  return bytes;
}

export function tagValue(fieldNumber: number, wireType: number): number {
  return ((fieldNumber << 3) | wireType) >>> 0;
}
