// Seeded fuzzing of the generated decoders: random bytes and mutated valid encodings.
// Every decode must either return a message or throw ProtoDecodeError, and finish.
// Re-run a failure with PROTO_FUZZ_SEED=<seed printed below>.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtoDecodeError, type MessageCodec } from '../../src/codec/protobuf/index.js';
import { Everything, Everything_Nested_Kind, Maps, Optionals, Recursive, Repeated, Scalars } from './testdata/generated/fixture.js';
import { Status } from './testdata/generated/fixture_common.js';

const seed = Number(process.env.PROTO_FUZZ_SEED ?? Date.now() % 1_000_000);
const randomInputCount = 3000;
const mutationCount = 3000;
const inputBytesMax = 96;

/** mulberry32: small, fast, seedable. */
function makeRandom(initial: number): () => number {
  let state = initial >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

// The codecs differ in message type; the fuzz only calls decode.
const codecs: Array<MessageCodec<any>> = [Scalars, Repeated, Optionals, Maps, Everything, Recursive];

const samples: Uint8Array[] = [
  Scalars.encode(Scalars.create({ doubleValue: 1.5, int64Value: -3, uint64Value: 2 ** 40, sint64Value: -7, stringValue: 'héllo', bytesValue: new Uint8Array([1, 2, 3]), fixed64Value: 9 })),
  Repeated.encode(Repeated.create({ int32Values: [1, -1], uint64Values: [5, 2 ** 50], stringValues: ['a', 'b'], leaves: [{ name: 'x', ino: 1 }], doubleValues: [1, 2], unpackedInt32Values: [3] })),
  Maps.encode(Maps.create({ labels: new Map([['k', 'v']]), leavesByIno: new Map([[1, { name: 'n', ino: 2 }]]), counters: new Map([[-1, 1]]) })),
  Everything.encode(Everything.create({ id: 1, leaf: { name: 'l', ino: 2 }, body: { case: 'child', value: { name: 'c', ino: 3 } }, nested: { kind: Everything_Nested_Kind.KIND_FILE, children: [] }, qualifiedStatus: Status.STATUS_OK, threeByteTag: 't' })),
  Recursive.encode({ child: { child: { child: undefined, depth: 2 }, depth: 1 }, depth: 0 }),
];

function decodeAll(input: Uint8Array, describe: () => string): void {
  for (const codec of codecs) {
    try {
      codec.decode(input);
    } catch (error) {
      if (!(error instanceof ProtoDecodeError)) {
        assert.fail(`${codec.typeName}.decode threw ${String(error)} (not ProtoDecodeError) for ${describe()} [seed ${seed}]`);
      }
    }
  }
}

test(`random bytes decode or throw ProtoDecodeError (seed ${seed})`, () => {
  const random = makeRandom(seed);
  for (let iteration = 0; iteration < randomInputCount; iteration++) {
    const input = new Uint8Array(Math.floor(random() * inputBytesMax));
    for (let index = 0; index < input.length; index++) input[index] = Math.floor(random() * 256);
    decodeAll(input, () => Buffer.from(input).toString('hex'));
  }
});

test(`mutated valid encodings decode or throw ProtoDecodeError (seed ${seed})`, () => {
  const random = makeRandom(seed ^ 0x5eed);
  for (let iteration = 0; iteration < mutationCount; iteration++) {
    const sample = samples[iteration % samples.length];
    let input = Uint8Array.from(sample);
    const mutation = Math.floor(random() * 4);
    if (mutation === 0 && input.length > 0) {
      input = input.subarray(0, Math.floor(random() * input.length)); // truncate
    } else if (mutation === 1 && input.length > 0) {
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) input[Math.floor(random() * input.length)] ^= 1 << Math.floor(random() * 8);
    } else if (mutation === 2 && input.length > 0) {
      input[Math.floor(random() * input.length)] = [0x00, 0x7f, 0x80, 0xff][Math.floor(random() * 4)];
    } else {
      const extra = Uint8Array.from({ length: 1 + Math.floor(random() * 12) }, () => Math.floor(random() * 256));
      const at = Math.floor(random() * (input.length + 1));
      input = Uint8Array.from([...input.subarray(0, at), ...extra, ...input.subarray(at)]);
    }
    decodeAll(input, () => Buffer.from(input).toString('hex'));
  }
});

test('hand-picked corrupt inputs throw ProtoDecodeError with a clear message', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['truncated varint', '1880', /truncated varint/],
    ['varint of 11 bytes', '18ffffffffffffffffffff01', /varint longer than 10 bytes/],
    ['varint of 11 bytes in a 64-bit field', '20' + 'ff'.repeat(10) + '01', /varint longer than 10 bytes/],
    ['length past the end', '72ffffffff0f', /length 4294967295 runs past the end/],
    ['length one past the end', '720361', /length 3 runs past the end/],
    ['truncated fixed64', '0900000000', /truncated double/],
    ['truncated fixed32', '4d0000', /truncated fixed32/],
    ['field number 0', '0001', /field number 0 is invalid/],
    ['wire type 6', 'fe0100', /invalid wire type 6/],
    ['wire type 7', 'ff0100', /invalid wire type 7/],
    ['unmatched end group', 'a401', /end-group tag for field 20 without a matching start/],
    ['unterminated group', 'a3010801', /truncated group for field 20/],
    ['mismatched end group', 'a301ac01', /end-group tag for field 21 inside group 20/],
    ['unknown field past the end', 'aa0105', /runs past the end/],
  ];
  for (const [description, input, message] of cases) {
    assert.throws(() => Scalars.decode(Buffer.from(input, 'hex')), (error: unknown) => {
      assert.ok(error instanceof ProtoDecodeError, `${description}: ${String(error)}`);
      assert.match(error.message, message, description);
      assert.equal(error.code, 'ATOLL_ERR_PROTO_DECODE');
      return true;
    });
  }
  // A nested message whose field runs past the nested length, though not past the input.
  assert.throws(() => Everything.decode(Buffer.from('1202' + '0a05' + '6162636465', 'hex')), /runs past the end of the enclosing value/);
  // A packed run whose last varint is cut by the packed length.
  assert.throws(() => Repeated.decode(Buffer.from('1a02' + '0180' + '01', 'hex')), /truncated varint/);
});
