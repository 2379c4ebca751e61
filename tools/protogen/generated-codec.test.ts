// Round trips through the code generated from testdata/fixture.proto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtoDecodeError, ProtoEncodeError } from '../../src/codec/protobuf/index.js';
import {
  Aliased,
  Empty,
  Everything,
  Everything_Nested_Kind,
  FixtureService,
  Maps,
  Optionals,
  Recursive,
  Repeated,
  Scalars,
  ScalarsSubset,
} from './testdata/generated/fixture.js';
import { Attributes, Status } from './testdata/generated/fixture_common.js';

const maxSafe = Number.MAX_SAFE_INTEGER;
const minSafe = Number.MIN_SAFE_INTEGER;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Decoded bytes fields are views of the input; compare them as plain Uint8Arrays. */
function plain<T>(value: T): T {
  if (value instanceof Uint8Array) return new Uint8Array(value) as T;
  if (value instanceof Map) return new Map([...value].map(([key, item]) => [key, plain(item)])) as T;
  if (Array.isArray(value)) return value.map(plain) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item)])) as T;
  }
  return value;
}

test('create fills proto3 defaults and keeps given fields', () => {
  const scalars = Scalars.create({ uint64Value: 5 });
  assert.equal(scalars.uint64Value, 5);
  assert.equal(scalars.doubleValue, 0);
  assert.equal(scalars.stringValue, '');
  assert.equal(scalars.boolValue, false);
  assert.equal(scalars.bytesValue.length, 0);
  const everything = Everything.create();
  assert.equal(everything.leaf, undefined);
  assert.equal(everything.body, undefined);
  assert.equal(everything.kind, Everything_Nested_Kind.KIND_UNSPECIFIED);
  assert.equal(everything.qualifiedStatus, Status.STATUS_UNSPECIFIED);
  assert.deepEqual(everything.nestedList, []);
  assert.deepEqual(Maps.create().labels, new Map());
  assert.deepEqual(Optionals.create(), {
    doubleValue: undefined, int64Value: undefined, uint64Value: undefined, boolValue: undefined, stringValue: undefined,
    bytesValue: undefined, status: undefined, sint32Value: undefined, fixed64Value: undefined,
  });
});

test('a message with every field at its default encodes to zero bytes', () => {
  assert.equal(Scalars.encode(Scalars.create()).length, 0);
  assert.equal(Everything.encode(Everything.create()).length, 0);
  assert.equal(Empty.encode({}).length, 0);
  assert.deepEqual(plain(Scalars.decode(new Uint8Array(0))), plain(Scalars.create()));
});

const scalarCases: Array<[string, Partial<Scalars>]> = [
  ['zeros except -0 and NaN', { doubleValue: -0, floatValue: Number.NaN }],
  ['max safe integers', { int64Value: maxSafe, uint64Value: maxSafe, sint64Value: maxSafe, fixed64Value: maxSafe, sfixed64Value: maxSafe }],
  ['min safe integers', { int64Value: minSafe, sint64Value: minSafe, sfixed64Value: minSafe }],
  ['negative 32-bit', { int32Value: -1, sint32Value: -(2 ** 31), sfixed32Value: -(2 ** 31) }],
  ['max 32-bit', { int32Value: 2 ** 31 - 1, uint32Value: 2 ** 32 - 1, sint32Value: 2 ** 31 - 1, fixed32Value: 2 ** 32 - 1, sfixed32Value: 2 ** 31 - 1 }],
  ['64-bit around 2^32', { int64Value: 2 ** 32, uint64Value: 2 ** 32 - 1, sint64Value: -(2 ** 32), fixed64Value: 2 ** 32 + 1, sfixed64Value: -(2 ** 32) - 1 }],
  ['small negative 64-bit', { int64Value: -1, sint64Value: -1, sfixed64Value: -1 }],
  ['sint64 around the 2^30 fast path', { sint64Value: 2 ** 30 }, ],
  ['sint64 just below -2^30', { sint64Value: -(2 ** 30) - 1 }],
  ['doubles', { doubleValue: Number.MAX_VALUE, floatValue: -Infinity }],
  ['double infinity and tiny float', { doubleValue: Infinity, floatValue: 1.401298464324817e-45 }],
  ['bool and strings', { boolValue: true, stringValue: 'ascii only' }],
  ['non-ASCII string', { stringValue: 'héllo wörld — 日本語 😀'.repeat(5) }],
  ['long ASCII string', { stringValue: 'x'.repeat(100_000) }],
  ['bytes', { bytesValue: new Uint8Array([0, 1, 2, 255]) }],
];

for (const [description, fields] of scalarCases) {
  test(`every scalar type round-trips: ${description}`, () => {
    const message = Scalars.create(fields);
    const encoded = Scalars.encode(message);
    assert.equal(encoded.length, Scalars.encodedSize(message));
    const decoded = Scalars.decode(encoded);
    assert.deepEqual(plain(decoded), plain(message));
    if (Object.is(message.doubleValue, -0)) assert.ok(Object.is(decoded.doubleValue, -0));
  });
}

test('known encodings match the protobuf specification byte for byte', () => {
  assert.equal(hex(Scalars.encode(Scalars.create({ int32Value: 150 }))), '189601');
  assert.equal(hex(Scalars.encode(Scalars.create({ int32Value: -1 }))), '18ffffffffffffffffff01');
  assert.equal(hex(Scalars.encode(Scalars.create({ sint32Value: -1 }))), '3801');
  assert.equal(hex(Scalars.encode(Scalars.create({ sint64Value: -2 }))), '4003');
  assert.equal(hex(Scalars.encode(Scalars.create({ uint64Value: maxSafe }))), '30ffffffffffffff0f');
  assert.equal(hex(Scalars.encode(Scalars.create({ fixed64Value: 1 }))), '510100000000000000');
  assert.equal(hex(Scalars.encode(Scalars.create({ doubleValue: -0 }))), '090000000000000080');
  assert.equal(hex(Scalars.encode(Scalars.create({ stringValue: 'testing' }))), '720774657374696e67');
  // Tags of more than one byte: field 2000 (2 bytes) and 3000 and 2^29-1 (more).
  const wide = Everything.encode(Everything.create({ twoByteTag: 'a', threeByteTag: 'b', largestFieldNumber: 1 }));
  assert.equal(hex(wide), '827d0161c2bb010162f8ffffff0f01');
});

test('strings: lone surrogates become U+FFFD, invalid UTF-8 decodes as U+FFFD', () => {
  const decoded = Scalars.decode(Scalars.encode(Scalars.create({ stringValue: 'a\uD800b' })));
  assert.equal(decoded.stringValue, 'a\uFFFDb');
  assert.equal(Scalars.decode(Uint8Array.from([0x72, 0x02, 0xc3, 0x28])).stringValue, '\uFFFD(');
});

test('decoded bytes fields are views of the input buffer (zero-copy)', () => {
  const encoded = Scalars.encode(Scalars.create({ bytesValue: new Uint8Array([7, 8, 9]) }));
  const decoded = Scalars.decode(encoded);
  assert.equal(decoded.bytesValue.buffer, encoded.buffer);
  encoded[encoded.length - 1] = 42;
  assert.equal(decoded.bytesValue[2], 42);
});

test('64-bit values outside the safe integer range fail to encode with ProtoEncodeError', () => {
  const cases: Array<Partial<Scalars>> = [
    { uint64Value: -1 },
    { uint64Value: 2 ** 53 },
    { int64Value: 2 ** 53 },
    { int64Value: -(2 ** 53) },
    { sint64Value: 1.5 },
    { fixed64Value: -1 },
    { sfixed64Value: Number.NaN },
    { uint64Value: Infinity },
    { uint32Value: -1 },
    { uint32Value: 2 ** 32 },
    { int32Value: 2 ** 31 },
    { sint32Value: 0.5 },
    { fixed32Value: -1 },
    { sfixed32Value: 2 ** 31 },
  ];
  for (const fields of cases) {
    assert.throws(() => Scalars.encode(Scalars.create(fields)), ProtoEncodeError, JSON.stringify(fields));
  }
  assert.throws(() => Scalars.encode(Scalars.create({ uint64Value: -1 })), /atoll\.fixture\.Scalars\.uint64_value: uint64 value -1/);
  assert.throws(() => Repeated.encode(Repeated.create({ uint64Values: [1, -1] })), ProtoEncodeError);
  assert.throws(() => Repeated.encode(Repeated.create({ fixed64Values: [2 ** 60] })), ProtoEncodeError);
  assert.throws(() => Maps.encode(Maps.create({ counters: new Map([[2 ** 60, 1]]) })), ProtoEncodeError);
});

test('64-bit values beyond the safe integer range fail to decode with ProtoDecodeError', () => {
  const inputs = {
    'uint64 2^53': '308080808080808010',
    'int64 -2^53': '2080808080808080f0ff01',
    'fixed64 2^53': '510000000000002000',
    'sint64 2^53': '408080808080808020',
    'sint64 -2^53 - 1': '40ffffffffffffff3f',
    'sfixed64 -2^53': '6100000000000000e0ff',
  };
  for (const [description, input] of Object.entries(inputs)) {
    assert.throws(() => Scalars.decode(Buffer.from(input, 'hex')), ProtoDecodeError, description);
  }
  // The extremes themselves decode.
  assert.equal(Scalars.decode(Buffer.from('30ffffffffffffff0f', 'hex')).uint64Value, maxSafe);
  assert.equal(Scalars.decode(Buffer.from('40fdffffffffffff1f', 'hex')).sint64Value, minSafe);
  assert.equal(Scalars.decode(Buffer.from('2081808080808080f0ff01', 'hex')).int64Value, minSafe);
});

test('repeated fields round-trip; numeric ones are packed, [packed = false] ones are not', () => {
  const message = Repeated.create({
    doubleValues: [1.5, -0, Infinity],
    floatValues: [0.5, -2],
    int32Values: [0, -1, 2 ** 31 - 1],
    int64Values: [minSafe, 0, maxSafe],
    uint32Values: [0, 2 ** 32 - 1],
    uint64Values: [0, 1, 2 ** 40, maxSafe],
    sint32Values: [-(2 ** 31), 2 ** 31 - 1],
    sint64Values: [minSafe, -1, maxSafe],
    fixed32Values: [1, 2 ** 32 - 1],
    fixed64Values: [maxSafe],
    sfixed32Values: [-5],
    sfixed64Values: [minSafe],
    boolValues: [true, false, true],
    stringValues: ['', 'a', 'é'],
    bytesValues: [new Uint8Array(0), new Uint8Array([1])],
    statuses: [Status.STATUS_OK, Status.STATUS_NEGATIVE, 77 as Status],
    leaves: [{ name: 'x', ino: 1 }, { name: '', ino: 0 }],
    unpackedInt32Values: [1, -1],
    unpackedUint64Values: [2 ** 33],
  });
  const encoded = Repeated.encode(message);
  assert.deepEqual(plain(Repeated.decode(encoded)), plain(message));
  // Field 3 packed: one tag 0x1a with a length; field 18 unpacked: tag 0x90 0x01 per value.
  const single = Repeated.encode(Repeated.create({ int32Values: [1, 2], unpackedInt32Values: [1, 2] }));
  assert.equal(hex(single), '1a020102' + '900101' + '900102');
});

test('repeated numeric fields decode from both packed and unpacked encodings', () => {
  // int32_values (field 3): unpacked 1, packed [2, 3], unpacked 4.
  const mixed = Buffer.from('1801' + '1a020203' + '1804', 'hex');
  assert.deepEqual(Repeated.decode(mixed).int32Values, [2 - 1, 2, 3, 4]);
  // unpacked_int32_values (field 18) sent packed.
  assert.deepEqual(Repeated.decode(Buffer.from('9201020506', 'hex')).unpackedInt32Values, [5, 6]);
  // Packed doubles and bools.
  const doubles = Repeated.decode(Buffer.from('0a10' + '000000000000f03f' + '0000000000000040', 'hex'));
  assert.deepEqual(doubles.doubleValues, [1, 2]);
  assert.deepEqual(Repeated.decode(Buffer.from('6a03010001', 'hex')).boolValues, [true, false, true]);
});

test('optional fields keep presence: a default value that is set is sent and comes back', () => {
  const set = Optionals.create({ doubleValue: 0, int64Value: 0, boolValue: false, stringValue: '', bytesValue: new Uint8Array(0), status: Status.STATUS_UNSPECIFIED, uint64Value: 0, sint32Value: 0, fixed64Value: 0 });
  const encoded = Optionals.encode(set);
  assert.ok(encoded.length > 0);
  assert.deepEqual(plain(Optionals.decode(encoded)), plain(set));
  const unset = Optionals.decode(Optionals.encode(Optionals.create()));
  assert.equal(unset.int64Value, undefined);
  assert.equal('int64Value' in unset, true);
  const some = Optionals.create({ int64Value: -7, stringValue: 'x' });
  assert.deepEqual(plain(Optionals.decode(Optionals.encode(some))), plain(some));
});

test('maps of every key type round-trip; entries missing key or value decode as defaults', () => {
  const message = Maps.create({
    labels: new Map([['a', '1'], ['', ''], ['é', 'ü']]),
    leavesByIno: new Map([[maxSafe, { name: 'big', ino: maxSafe }], [0, { name: '', ino: 0 }]]),
    statuses: new Map([[-1, Status.STATUS_NEGATIVE], [5, Status.STATUS_OK]]),
    flags: new Map([[true, new Uint8Array([1])], [false, new Uint8Array(0)]]),
    weights: new Map([[minSafe, -1.5], [maxSafe, Number.NaN]]),
    names: new Map([[2 ** 32 - 1, 'max']]),
    counters: new Map([[-1, minSafe]]),
    small: new Map([[0, 0]]),
    ratios: new Map([[-(2 ** 31), 0.25]]),
    seen: new Map([[maxSafe, true]]),
    offsets: new Map([[-1, -1]]),
  });
  const decoded = Maps.decode(Maps.encode(message));
  assert.deepEqual(plain(decoded), plain(message));
  // An entry with neither key nor value (field 2, length 0): key 0, value a default Leaf.
  const empty = Maps.decode(Buffer.from('1200', 'hex'));
  assert.deepEqual(empty.leavesByIno, new Map([[0, { name: '', ino: 0 }]]));
  // Value before key, and an unknown field 3 inside the entry.
  const reordered = Maps.decode(Buffer.from('0a08' + '120162' + '1801' + '0a0161', 'hex'));
  assert.deepEqual(reordered.labels, new Map([['a', 'b']]));
});

test('nested messages, imported messages and oneof cases round-trip', () => {
  const cases: Everything['body'][] = [
    undefined,
    { case: 'text', value: '' },
    { case: 'text', value: 'hello' },
    { case: 'child', value: { name: 'c', ino: 3 } },
    { case: 'number', value: 0 },
    { case: 'number', value: maxSafe },
    { case: 'status', value: Status.STATUS_NEGATIVE },
    { case: 'blob', value: new Uint8Array([1, 2]) },
  ];
  for (const body of cases) {
    const message = Everything.create({
      id: 1,
      leaf: { name: 'leaf', ino: 2 },
      attributes: Attributes.create({ mode: 0o755, size: 2 ** 40 }),
      body,
      nested: { kind: Everything_Nested_Kind.KIND_DIRECTORY, children: [{ kind: Everything_Nested_Kind.KIND_FILE, children: [] }] },
      kind: Everything_Nested_Kind.KIND_FILE,
      qualifiedStatus: Status.STATUS_NOT_FOUND,
      twoByteTag: 'two',
      threeByteTag: 'three',
      largestFieldNumber: -(2 ** 40),
      aliased: Aliased.ALIASED_UNO,
      nestedList: [{ kind: 0, children: [] }],
    });
    const decoded = Everything.decode(Everything.encode(message));
    assert.deepEqual(plain(decoded), plain(message), JSON.stringify(body?.case));
  }
  // A oneof case set to its default is still sent: presence is explicit.
  assert.equal(hex(Everything.encode(Everything.create({ body: { case: 'number', value: 0 } }))), '3000');
});

test('the last of several oneof members on the wire wins', () => {
  // text = "a" (field 4), then number = 5 (field 6).
  assert.deepEqual(Everything.decode(Buffer.from('2201613005', 'hex')).body, { case: 'number', value: 5 });
});

test('a oneof with a case its message does not declare fails to encode', () => {
  const broken = Everything.create({ body: { case: 'nope', value: 1 } as unknown as Everything['body'] });
  assert.throws(() => Everything.encode(broken), /atoll\.fixture\.Everything\.body: unknown oneof case "nope"/);
});

test('unknown fields of every wire type are skipped', () => {
  const full = Scalars.create({ doubleValue: 1, int64Value: -3, uint64Value: 9, fixed32Value: 7, stringValue: 'kept', bytesValue: new Uint8Array([1]) });
  const subset = ScalarsSubset.decode(Scalars.encode(full));
  assert.deepEqual(subset, { int64Value: -3, stringValue: 'kept' });
  // A group (field 20: start 0xa3 0x01 ... end 0xa4 0x01) holding a nested group, before a known field.
  const withGroup = Buffer.from('a301' + 'ab01' + '0801' + 'ac01' + 'a401' + '7201' + '61', 'hex');
  assert.deepEqual(ScalarsSubset.decode(withGroup), { int64Value: 0, stringValue: 'a' });
});

test('encodeInto writes at an offset and refuses a buffer that is too small', () => {
  const message = Everything.create({ id: 300, leaf: { name: 'n', ino: 1 } });
  const expected = Everything.encode(message);
  const buffer = new Uint8Array(expected.length + 10).fill(0xee);
  const end = Everything.encodeInto(message, buffer, 4);
  assert.equal(end, 4 + expected.length);
  assert.deepEqual(buffer.subarray(4, end), expected);
  assert.equal(buffer[3], 0xee);
  assert.equal(buffer[end], 0xee);
  const small = new Uint8Array(expected.length - 1);
  assert.throws(() => Everything.encodeInto(message, small, 0), ProtoEncodeError);
  assert.deepEqual(small, new Uint8Array(expected.length - 1), 'nothing written on failure');
  assert.throws(() => Everything.encodeInto(message, buffer, -1), ProtoEncodeError);
  // A plain Uint8Array and a Buffer produce the same bytes for long non-ASCII strings.
  const text = Scalars.create({ stringValue: 'ü'.repeat(100) });
  const intoBuffer = Buffer.alloc(300);
  const length = Scalars.encodeInto(text, intoBuffer, 0);
  assert.deepEqual(new Uint8Array(intoBuffer.subarray(0, length)), new Uint8Array(Scalars.encode(text)));
});

test('decode rejects a known field with the wrong wire type', () => {
  // uint64_value (field 6) sent as fixed32 (wire type 5).
  assert.throws(() => Scalars.decode(Buffer.from('3501000000', 'hex')), /field atoll\.fixture\.Scalars\.uint64_value \(number 6\) has wire type 5/);
  // A packed encoding of a string field.
  assert.throws(() => Repeated.decode(Buffer.from('7001', 'hex')), ProtoDecodeError);
});

test('decode stops at the nesting limit with ProtoDecodeError, not a stack overflow', () => {
  let message: Recursive = { child: undefined, depth: 0 };
  for (let depth = 1; depth < 99; depth++) message = { child: message, depth };
  assert.equal(Recursive.decode(Recursive.encode(message)).depth, 98);
  // 200 levels of `child` (field 1), built inside out.
  let bytes: number[] = [];
  for (let level = 0; level < 200; level++) bytes = [0x0a, ...encodeVarint(bytes.length), ...bytes];
  assert.throws(() => Recursive.decode(Uint8Array.from(bytes)), /messages nested deeper than 100/);
});

function encodeVarint(value: number): number[] {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return bytes;
}

test('the service table carries declared method ids and the codecs of each method', () => {
  assert.equal(FixtureService.lookup.id, 101);
  assert.equal(FixtureService.lookup.name, 'Lookup');
  assert.equal(FixtureService.lookup.service, 'atoll.fixture.FixtureService');
  assert.equal(FixtureService.lookup.request, Scalars);
  assert.equal(FixtureService.lookup.response, Everything);
  assert.equal(FixtureService.ping.id, 102);
  assert.equal(FixtureService.ping.request, Empty);
});

test('encoding re-entered from inside an encode still produces correct bytes', () => {
  const inner = Scalars.create({ stringValue: 'inner' });
  const message = Scalars.create({ stringValue: 'outer' });
  let innerBytes: Uint8Array | undefined;
  Object.defineProperty(message, 'uint64Value', {
    get() {
      innerBytes ??= Scalars.encode(inner);
      return 5;
    },
  });
  const encoded = Scalars.encode(message);
  assert.equal(Scalars.decode(encoded).stringValue, 'outer');
  assert.equal(Scalars.decode(innerBytes!).stringValue, 'inner');
});

test('encoded buffers stay correct after a caller transfers a shared slab away', () => {
  const first = Scalars.encode(Scalars.create({ stringValue: 'first' }));
  structuredClone(first.buffer, { transfer: [first.buffer as ArrayBuffer] });
  const second = Scalars.encode(Scalars.create({ stringValue: 'second' }));
  assert.equal(Scalars.decode(second).stringValue, 'second');
});
