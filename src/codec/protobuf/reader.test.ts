import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtoDecodeError } from './errors.js';
import { ProtoReader } from './reader.js';

function reader(hex: string): ProtoReader {
  return new ProtoReader(Buffer.from(hex.replace(/ /g, ''), 'hex'));
}

test('uint32 reads varints of 1 to 5 bytes and truncates longer ones to 32 bits', () => {
  assert.equal(reader('00').uint32(), 0);
  assert.equal(reader('7f').uint32(), 127);
  assert.equal(reader('ac02').uint32(), 300);
  assert.equal(reader('ffffffff0f').uint32(), 0xffff_ffff);
  // -1 as int32 on the wire is ten bytes; uint32 keeps the low 32 bits and consumes all ten.
  const negative = reader('ffffffffffffffffff01 00000000000000');
  assert.equal(negative.uint32(), 0xffff_ffff);
  assert.equal(negative.position, 10);
  assert.equal(reader('ffffffffffffffffff01').int32(), -1);
});

test('the checked slow path near the end of input reads the same values', () => {
  // Fewer than 10 bytes remain, so every byte is bound-checked.
  assert.equal(reader('ac02').uint32(), 300);
  assert.equal(reader('808080800f').uint32(), 0xf000_0000);
  assert.throws(() => reader('8080').uint32(), /truncated varint: at byte 2/);
});

test('64-bit varints become numbers within the safe integer range', () => {
  assert.equal(reader('ffffffffffffff0f').uint64(), Number.MAX_SAFE_INTEGER);
  assert.throws(() => reader('8080808080808010').uint64(), ProtoDecodeError);
  assert.equal(reader('ffffffffffffffffff01').int64(), -1);
  assert.equal(reader('81808080808080f0ff01').int64(), Number.MIN_SAFE_INTEGER);
  assert.throws(() => reader('80808080808080f0ff01').int64(), /int64 value is below Number.MIN_SAFE_INTEGER/);
  assert.equal(reader('01').sint64(), -1);
  assert.equal(reader('02').sint64(), 1);
  assert.equal(reader('feffffffffffff1f').sint64(), Number.MAX_SAFE_INTEGER);
  assert.equal(reader('fdffffffffffff1f').sint64(), Number.MIN_SAFE_INTEGER);
  assert.throws(() => reader('ffffffffffffff1f').sint64(), /below Number.MIN_SAFE_INTEGER/);
});

test('sint32 undoes zigzag', () => {
  assert.equal(reader('00').sint32(), 0);
  assert.equal(reader('01').sint32(), -1);
  assert.equal(reader('02').sint32(), 1);
  assert.equal(reader('ffffffff0f').sint32(), -(2 ** 31));
  assert.equal(reader('feffffff0f').sint32(), 2 ** 31 - 1);
});

test('bool is true for any non-zero varint, including one whose low 32 bits are zero', () => {
  assert.equal(reader('00').bool(), false);
  assert.equal(reader('01').bool(), true);
  assert.equal(reader('8080808010').bool(), true);
});

test('fixed-width values are little-endian and bound-checked', () => {
  assert.equal(reader('78563412').fixed32(), 0x1234_5678);
  assert.equal(reader('ffffffff').sfixed32(), -1);
  assert.equal(reader('ffffffffffff1f00').fixed64(), Number.MAX_SAFE_INTEGER);
  assert.equal(reader('ffffffffffffffff').sfixed64(), -1);
  assert.throws(() => reader('ffffffffffffffff').fixed64(), /fixed64 value exceeds/);
  assert.equal(reader('0000c03f').float(), 1.5);
  assert.ok(Object.is(reader('0000000000000080').double(), -0));
  assert.throws(() => reader('000000').float(), /truncated float: at byte 0/);
});

test('a length prefix larger than what remains fails before anything is sliced', () => {
  assert.throws(() => reader('ffffffff07').bytesField(), /length 2147483647 runs past the end of the enclosing value \(0 bytes left\)/);
  const nested = reader('0561626364650a');
  nested.limit = 3; // as if inside a 3-byte message
  assert.throws(() => nested.string(), /length 5 runs past the end/);
});

test('bytes fields are views of the input, strings are decoded', () => {
  const input = Buffer.from('0301020302c3a9', 'hex');
  const cursor = new ProtoReader(input);
  const bytes = cursor.bytesField();
  assert.deepEqual([...bytes], [1, 2, 3]);
  assert.equal(bytes.buffer, input.buffer);
  assert.equal(cursor.string(), 'é');
});

test('enter narrows the limit to a length-delimited value and leave restores it', () => {
  const cursor = reader('02 0102 03');
  const outer = cursor.enter();
  assert.equal(cursor.limit, 3);
  assert.equal(cursor.uint32(), 1);
  assert.equal(cursor.uint32(), 2);
  assert.throws(() => cursor.uint32(), /truncated varint/);
  cursor.leave(outer);
  assert.equal(cursor.uint32(), 3);
});

test('skip passes over every wire type, groups included', () => {
  const cursor = reader('08 96 01  11 0102030405060708  1a 02 6869  23 08 01 24  2d 01020304  30 05');
  for (let field = 0; field < 5; field++) cursor.skip(cursor.tag());
  assert.equal(cursor.tag(), 0x30);
  assert.equal(cursor.uint32(), 5);
  assert.equal(cursor.position, cursor.limit);
});
