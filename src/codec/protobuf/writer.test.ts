import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtoEncodeError } from './errors.js';
import * as size from './field-size.js';
import { ProtoReader } from './reader.js';
import { ProtoWriter } from './writer.js';

function written(write: (writer: ProtoWriter) => void, byteCount: number): string {
  const writer = new ProtoWriter();
  const bytes = new Uint8Array(byteCount);
  writer.beginMeasure();
  writer.beginWrite(bytes, 0);
  write(writer);
  writer.finish(byteCount);
  return Buffer.from(bytes).toString('hex');
}

function bytesOf(write: (writer: ProtoWriter) => void, byteCount: number): Uint8Array {
  const writer = new ProtoWriter();
  const bytes = new Uint8Array(byteCount);
  writer.beginWrite(bytes, 0);
  write(writer);
  assert.equal(writer.position, byteCount, 'size function and writer agree');
  return bytes;
}

test('every integer writer produces what the reader reads back, with the size the size functions predict', () => {
  const values64 = [0, 1, 127, 128, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35, 2 ** 49 - 1, 2 ** 49, Number.MAX_SAFE_INTEGER];
  for (const magnitude of values64) {
    const unsigned = bytesOf((writer) => writer.uint64(magnitude), size.uint64Size(magnitude, 'f'));
    assert.equal(new ProtoReader(unsigned).uint64(), magnitude);
    // `|| 0` because -0 decodes as 0: integers have no negative zero on the wire.
    for (const value of [magnitude, -magnitude || 0]) {
      const signed = bytesOf((writer) => writer.int64(value), size.int64Size(value, 'f'));
      assert.equal(new ProtoReader(signed).int64(), value);
      const zigzag = bytesOf((writer) => writer.sint64(value), size.sint64Size(value, 'f'));
      assert.equal(new ProtoReader(zigzag).sint64(), value, `sint64 ${value}`);
      const fixed = bytesOf((writer) => writer.fixed64(value), size.sfixed64Size(value, 'f'));
      assert.equal(new ProtoReader(fixed).sfixed64(), value);
    }
  }
  for (const value of [0, 1, -1, 2 ** 30, -(2 ** 30) - 1, 2 ** 31 - 1, -(2 ** 31)]) {
    assert.equal(new ProtoReader(bytesOf((writer) => writer.int32(value), size.int32Size(value, 'f'))).int32(), value);
    assert.equal(new ProtoReader(bytesOf((writer) => writer.sint32(value), size.sint32Size(value, 'f'))).sint32(), value);
    assert.equal(new ProtoReader(bytesOf((writer) => writer.sfixed32(value), size.sfixed32Size(value, 'f'))).sfixed32(), value);
  }
});

test('known varint encodings', () => {
  assert.equal(written((writer) => writer.varint32(300), 2), 'ac02');
  assert.equal(written((writer) => writer.int32(-1), 10), 'ffffffffffffffffff01');
  assert.equal(written((writer) => writer.int64(-2), 10), 'feffffffffffffffff01');
  assert.equal(written((writer) => writer.sint64(-(2 ** 31) - 1), 5), '8180808010');
  assert.equal(written((writer) => writer.uint64(2 ** 32), 5), '8080808010');
});

test('size functions reject values their type cannot hold, naming the field', () => {
  assert.throws(() => size.uint64Size(-1, 'pkg.Message.ino'), (error: unknown) => {
    assert.ok(error instanceof ProtoEncodeError);
    assert.equal(error.code, 'ATOLL_ERR_PROTO_ENCODE');
    assert.match(error.message, /^encode protobuf: pkg\.Message\.ino: uint64 value -1 is not an integer in 0\.\.Number\.MAX_SAFE_INTEGER$/);
    return true;
  });
  assert.throws(() => size.int64Size(2 ** 53, 'f'), ProtoEncodeError);
  assert.throws(() => size.sint64Size(0.5, 'f'), ProtoEncodeError);
  assert.throws(() => size.uint32Size(2 ** 32, 'f'), ProtoEncodeError);
  assert.throws(() => size.int32Size(2 ** 31, 'f'), ProtoEncodeError);
  assert.throws(() => size.enumSize(1.5, 'f'), ProtoEncodeError);
  assert.throws(() => size.uint64Size(undefined as unknown as number, 'f'), /uint64 value undefined undefined/);
});

test('finish fails loudly when the write pass does not end where the size pass said', () => {
  const writer = new ProtoWriter();
  writer.beginMeasure();
  writer.beginWrite(new Uint8Array(4), 0);
  writer.byte(1);
  assert.throws(() => writer.finish(4), /assertion failed: protobuf write pass diverged from size pass/);
});

test('recorded sizes are consumed in the order the size pass recorded them', () => {
  const writer = new ProtoWriter();
  writer.beginMeasure();
  const slot = writer.reserveSize();
  writer.recordSize(3);
  writer.fillSize(slot, 7);
  writer.beginWrite(new Uint8Array(0), 0);
  assert.equal(writer.nextSize(), 7);
  assert.equal(writer.nextSize(), 3);
});
