// Interoperability with protobufjs, loaded at run time from the same fixture .proto:
// bytes written by our generated code must decode to the same values with protobufjs,
// and bytes written by protobufjs must decode to the same values with ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import type { MessageCodec } from '../../src/codec/protobuf/index.js';
import {
  Aliased,
  Empty,
  Everything,
  Everything_Nested_Kind,
  Maps,
  Optionals,
  Recursive,
  Repeated,
  Scalars,
} from './testdata/generated/fixture.js';
import { Status } from './testdata/generated/fixture_common.js';

// Tests run from the repository root.
const root = protobuf.loadSync('tools/protogen/testdata/fixture.proto');
root.resolveAll();

const maxSafe = Number.MAX_SAFE_INTEGER;
const minSafe = Number.MIN_SAFE_INTEGER;
const missing = Symbol('missing');
const longKeyTypes = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

type Canonical = unknown;
type AnyRecord = Record<string, unknown>;

function isSyntheticOptional(field: protobuf.Field): boolean {
  return field.partOf !== null && (field.options?.proto3_optional === true || field.partOf.name.startsWith('_'));
}

/** Scalars, messages and lists in one comparable form, from either side. */
function canonicalValue(field: protobuf.Field, value: unknown): Canonical {
  if (value === null || value === undefined) return missing;
  if (field.resolvedType instanceof protobuf.Type) return canonicalMessage(field.resolvedType, value as AnyRecord, 'auto');
  if (value instanceof Uint8Array) return Array.from(value);
  if (typeof value === 'object' && 'low' in (value as object)) return (value as { toNumber(): number }).toNumber();
  return value;
}

function canonicalMessage(type: protobuf.Type, message: AnyRecord, side: 'ours' | 'protobufjs' | 'auto'): Record<string, Canonical> {
  const fromOurs = side === 'ours' || (side === 'auto' && !(message instanceof protobuf.Message));
  const result: Record<string, Canonical> = {};
  for (const field of type.fieldsArray) {
    let value: unknown;
    if (fromOurs) {
      if (field.partOf !== null && !isSyntheticOptional(field)) {
        const oneof = message[field.partOf.name] as { case: string; value: unknown } | undefined;
        value = oneof?.case === field.name ? oneof.value : undefined;
      } else {
        value = message[field.name];
      }
    } else {
      const present = field.partOf === null || Object.prototype.hasOwnProperty.call(message, field.name);
      value = present ? message[field.name] : undefined;
    }
    if (field.map) {
      const mapField = field as unknown as protobuf.MapField;
      const entries: Array<[string, Canonical]> = [];
      if (value instanceof Map) {
        for (const [key, item] of value) entries.push([String(key), canonicalValue(field, item)]);
      } else if (value !== undefined && value !== null) {
        for (const [key, item] of Object.entries(value as AnyRecord)) {
          // protobufjs keys 64-bit maps by an 8-character hash of the Long.
          const readable = longKeyTypes.has(mapField.keyType) && key.length === 8 && !/^-?\d+$/.test(key)
            ? String(protobuf.util.LongBits.fromHash(key).toNumber(mapField.keyType.startsWith('u') || mapField.keyType === 'fixed64'))
            : key;
          entries.push([readable, canonicalValue(field, item)]);
        }
      }
      result[field.name] = entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    } else if (field.repeated) {
      result[field.name] = ((value as unknown[] | undefined) ?? []).map((item) => canonicalValue(field, item));
    } else {
      result[field.name] = canonicalValue(field, value);
    }
  }
  return result;
}

/** Our message as the plain object protobufjs `fromObject` takes. */
function toProtobufjsObject(type: protobuf.Type, message: AnyRecord): AnyRecord {
  const result: AnyRecord = {};
  for (const field of type.fieldsArray) {
    let value: unknown;
    if (field.partOf !== null && !isSyntheticOptional(field)) {
      const oneof = message[field.partOf.name] as { case: string; value: unknown } | undefined;
      if (oneof?.case !== field.name) continue;
      value = oneof.value;
    } else {
      value = message[field.name];
    }
    if (value === undefined) continue;
    const nested = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    const convert = (item: unknown): unknown => (nested !== undefined ? toProtobufjsObject(nested, item as AnyRecord) : item);
    if (value instanceof Map) result[field.name] = Object.fromEntries([...value].map(([key, item]) => [String(key), convert(item)]));
    else if (Array.isArray(value)) result[field.name] = value.map(convert);
    else result[field.name] = convert(value);
  }
  return result;
}

function checkBothDirections<T>(codec: MessageCodec<T>, message: T): void {
  const type = root.lookupType(codec.typeName);
  const expected = canonicalMessage(type, message as AnyRecord, 'ours');

  const ours = codec.encode(message);
  const decodedByProtobufjs = type.decode(ours) as unknown as AnyRecord;
  assert.deepEqual(canonicalMessage(type, decodedByProtobufjs, 'protobufjs'), expected, `protobufjs decoding our ${codec.typeName}`);

  const theirs = type.encode(type.fromObject(toProtobufjsObject(type, message as AnyRecord))).finish();
  const decodedByUs = codec.decode(theirs);
  assert.deepEqual(canonicalMessage(type, decodedByUs as AnyRecord, 'ours'), expected, `our decoding of protobufjs ${codec.typeName}`);
}

test('scalars interoperate with protobufjs at their edge values', () => {
  const variants: Array<Partial<Scalars>> = [
    {},
    {
      doubleValue: -0, floatValue: Number.NaN, int32Value: -1, int64Value: minSafe, uint32Value: 2 ** 32 - 1, uint64Value: maxSafe,
      sint32Value: -(2 ** 31), sint64Value: minSafe, fixed32Value: 2 ** 32 - 1, fixed64Value: maxSafe, sfixed32Value: -(2 ** 31),
      sfixed64Value: minSafe, boolValue: true, stringValue: 'héllo 😀 日本', bytesValue: new Uint8Array([0, 255, 7]),
    },
    {
      doubleValue: 1e308, floatValue: 3.5, int32Value: 2 ** 31 - 1, int64Value: maxSafe, uint64Value: 2 ** 32, sint32Value: 2 ** 31 - 1,
      sint64Value: maxSafe, fixed64Value: 2 ** 32 + 5, sfixed32Value: 2 ** 31 - 1, sfixed64Value: maxSafe, stringValue: 'a'.repeat(300),
    },
  ];
  for (const fields of variants) checkBothDirections(Scalars, Scalars.create(fields));
});

test('repeated fields interoperate with protobufjs, packed and unpacked', () => {
  checkBothDirections(Repeated, Repeated.create({
    doubleValues: [1.5, -0, Number.NaN], floatValues: [0.25], int32Values: [-1, 0, 1], int64Values: [minSafe, maxSafe],
    uint32Values: [2 ** 32 - 1], uint64Values: [0, maxSafe], sint32Values: [-3, 3], sint64Values: [minSafe, -1, maxSafe],
    fixed32Values: [7], fixed64Values: [maxSafe], sfixed32Values: [-7], sfixed64Values: [minSafe], boolValues: [true, false],
    stringValues: ['', 'ü'], bytesValues: [new Uint8Array(0), new Uint8Array([9])], statuses: [Status.STATUS_OK, Status.STATUS_NEGATIVE],
    leaves: [{ name: 'a', ino: 1 }, { name: '', ino: 0 }], unpackedInt32Values: [-5, 5], unpackedUint64Values: [maxSafe, 0],
  }));
});

test('optional fields interoperate with protobufjs, set to defaults and unset', () => {
  checkBothDirections(Optionals, Optionals.create());
  checkBothDirections(Optionals, Optionals.create({
    doubleValue: 0, int64Value: 0, uint64Value: 0, boolValue: false, stringValue: '', bytesValue: new Uint8Array(0),
    status: Status.STATUS_UNSPECIFIED, sint32Value: 0, fixed64Value: 0,
  }));
  checkBothDirections(Optionals, Optionals.create({ int64Value: -9, status: Status.STATUS_NEGATIVE, fixed64Value: maxSafe }));
});

test('maps interoperate with protobufjs for every key type', () => {
  checkBothDirections(Maps, Maps.create({
    labels: new Map([['a', 'x'], ['', ''], ['ü', 'é']]),
    leavesByIno: new Map([[maxSafe, { name: 'n', ino: 3 }], [0, { name: '', ino: 0 }]]),
    statuses: new Map([[-1, Status.STATUS_NEGATIVE], [2, Status.STATUS_OK]]),
    // protobufjs writes bool map keys from strings, so "false" would come back true; only `true` here.
    flags: new Map([[true, new Uint8Array([1, 2])]]),
    weights: new Map([[minSafe, 0.5], [-1, -0]]),
    names: new Map([[2 ** 32 - 1, 'max']]),
    counters: new Map([[-1, minSafe], [maxSafe, 1]]),
    small: new Map([[0, 0], [1, 2 ** 32 - 1]]),
    ratios: new Map([[-(2 ** 31), 0.25]]),
    seen: new Map([[maxSafe, true], [0, false]]),
    offsets: new Map([[-1, minSafe]]),
  }));
});

test('bool map keys written by us decode in protobufjs, false included', () => {
  const type = root.lookupType('atoll.fixture.Maps');
  const decoded = type.decode(Maps.encode(Maps.create({ flags: new Map([[false, new Uint8Array([1])], [true, new Uint8Array([2])]]) }))) as unknown as { flags: Record<string, Uint8Array> };
  assert.deepEqual(Object.keys(decoded.flags).sort(), ['false', 'true']);
});

test('nested messages, imports, aliases and every oneof case interoperate with protobufjs', () => {
  const bodies: Everything['body'][] = [
    undefined,
    { case: 'text', value: 'hello' },
    { case: 'child', value: { name: 'c', ino: maxSafe } },
    { case: 'number', value: 0 },
    { case: 'status', value: Status.STATUS_NEGATIVE },
    { case: 'blob', value: new Uint8Array([4, 5]) },
  ];
  for (const body of bodies) {
    checkBothDirections(Everything, Everything.create({
      id: maxSafe,
      leaf: { name: 'leaf', ino: 9 },
      attributes: { mode: 0o644, uid: 1000, size: 2 ** 40 },
      body,
      nested: { kind: Everything_Nested_Kind.KIND_DIRECTORY, children: [{ kind: Everything_Nested_Kind.KIND_FILE, children: [] }] },
      kind: Everything_Nested_Kind.KIND_FILE,
      qualifiedStatus: Status.STATUS_NOT_FOUND,
      twoByteTag: 'two',
      threeByteTag: 'three',
      largestFieldNumber: minSafe,
      aliased: Aliased.ALIASED_ONE,
      nestedList: [{ kind: Everything_Nested_Kind.KIND_UNSPECIFIED, children: [] }],
    }));
  }
});

test('recursive and empty messages interoperate with protobufjs', () => {
  let message: Recursive = { child: undefined, depth: 0 };
  for (let depth = 1; depth < 20; depth++) message = { child: message, depth };
  checkBothDirections(Recursive, message);
  checkBothDirections(Empty, Empty.create());
});
