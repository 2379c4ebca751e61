import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../raft/index.js';
import { RecordType, frameHeaderBytes } from './format.js';
import { FrameBuilder } from './frame-builder.js';
import { checkFrame, decodeFrameRecords, findIntactFrameAfter } from './frame.js';
import { encodeEntryRecord, encodeGroupRemovedRecord, encodeHardStateRecord, encodeSnapshotMarkRecord, entryRecordBytes, fixedRecordBytes } from './record.js';
import { entry, hardState } from './testing/wal-suite.js';

function buildFrame(): Uint8Array {
  const builder = new FrameBuilder(1 << 16, 41);
  const first = entry(7, 3, 'payload', EntryType.ConfChange);
  let offset = builder.reserve(entryRecordBytes(first));
  builder.commit(encodeEntryRecord(builder.buffer, offset, Number.MAX_SAFE_INTEGER, first), RecordType.Entry, Number.MAX_SAFE_INTEGER, 7);
  offset = builder.reserve(fixedRecordBytes(RecordType.HardState));
  builder.commit(encodeHardStateRecord(builder.buffer, offset, 2, hardState(5, 3, 9)), RecordType.HardState, 2, 9);
  offset = builder.reserve(fixedRecordBytes(RecordType.SnapshotMark));
  builder.commit(encodeSnapshotMarkRecord(builder.buffer, offset, 2, 8, 4, true), RecordType.SnapshotMark, 2, 8, true);
  offset = builder.reserve(fixedRecordBytes(RecordType.GroupRemoved));
  builder.commit(encodeGroupRemovedRecord(builder.buffer, offset, 3), RecordType.GroupRemoved, 3, 0);
  const frames = builder.take();
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.firstSequence, 41);
  assert.equal(builder.nextSequence, 45);
  return frames[0]!.bytes;
}

test('a frame decodes to the records encoded into it, every type', () => {
  const bytes = buildFrame();
  const header = checkFrame(bytes, 0, bytes.byteLength);
  assert.ok(typeof header !== 'string', String(header));
  assert.deepEqual(header, { frameBytes: bytes.byteLength, firstSequence: 41, recordCount: 4 });
  const records = decodeFrameRecords(bytes, 0, header);
  assert.ok(typeof records !== 'string', String(records));
  assert.deepEqual(records, [
    { type: RecordType.Entry, groupId: Number.MAX_SAFE_INTEGER, entry: { index: 7, term: 3, type: EntryType.ConfChange, data: new TextEncoder().encode('payload') } },
    { type: RecordType.HardState, groupId: 2, hardState: hardState(5, 3, 9) },
    { type: RecordType.SnapshotMark, groupId: 2, index: 8, term: 4, keepsEntriesAbove: true },
    { type: RecordType.GroupRemoved, groupId: 3 },
  ]);
});

test('every flipped byte and every cut of a frame is detected', () => {
  const bytes = buildFrame();
  for (let position = 0; position < bytes.byteLength; position++) {
    const damaged = bytes.slice();
    damaged[position] = damaged[position]! ^ 0x01;
    assert.equal(typeof checkFrame(damaged, 0, damaged.byteLength), 'string', `flip at ${position}`);
  }
  for (let length = 0; length < bytes.byteLength; length++) {
    assert.equal(typeof checkFrame(bytes.subarray(0, length), 0, length), 'string', `cut at ${length}`);
  }
});

test('an intact frame is found after damage, at any offset, and nothing is found in zeros', () => {
  const frame = buildFrame();
  const log = new Uint8Array(frame.byteLength * 2 + 37);
  log.set(frame, 0);
  log.fill(0xa5, frame.byteLength, frame.byteLength + 37);
  log.set(frame, frame.byteLength + 37);
  log[3] = log[3]! ^ 0xff;
  assert.equal(findIntactFrameAfter(log, 0, log.byteLength), frame.byteLength + 37);
  assert.equal(findIntactFrameAfter(new Uint8Array(10_000), 0, 10_000), -1);
  assert.equal(findIntactFrameAfter(log, frame.byteLength + 37, log.byteLength), -1);
});

test('the frame builder seals a frame before it would pass its limit', () => {
  const builder = new FrameBuilder(frameHeaderBytes + 3 * entryRecordBytes(entry(1, 1, 'x')), 0);
  for (let index = 1; index <= 7; index++) {
    const item = entry(index, 1, 'x');
    const offset = builder.reserve(entryRecordBytes(item));
    builder.commit(encodeEntryRecord(builder.buffer, offset, 1, item), RecordType.Entry, 1, index);
  }
  const frames = builder.take();
  assert.deepEqual(frames.map((frame) => [frame.firstSequence, frame.notes.length]), [[0, 3], [3, 3], [6, 1]]);
  assert.ok(builder.isEmpty());
  assert.equal(builder.bufferedBytes, 0);
});

test('small frames share one buffer, each keeping its own bytes, and a full buffer is replaced', () => {
  const builder = new FrameBuilder(1 << 16, 0);
  const taken: Uint8Array[] = [];
  const copies: Uint8Array[] = [];
  // Far more small frames than one 64 KiB buffer holds (bounded: 400 frames).
  for (let index = 1; index <= 400; index++) {
    const item = entry(index, 1, `payload ${index}`.padEnd(200, '.'));
    const offset = builder.reserve(entryRecordBytes(item));
    builder.commit(encodeEntryRecord(builder.buffer, offset, 1, item), RecordType.Entry, 1, index);
    const [frame] = builder.take();
    taken.push(frame!.bytes);
    copies.push(frame!.bytes.slice());
  }
  // Every frame still reads as it was sealed: no later frame wrote over it.
  taken.forEach((bytes, at) => {
    assert.deepEqual(bytes, copies[at], `frame ${at}`);
    const header = checkFrame(bytes, 0, bytes.byteLength);
    assert.ok(typeof header !== 'string', String(header));
    const records = decodeFrameRecords(bytes, 0, header);
    assert.ok(typeof records !== 'string' && records[0]!.type === RecordType.Entry && records[0]!.entry.index === at + 1);
  });
  const buffers = new Set(taken.map((bytes) => bytes.buffer));
  // About 230 bytes a frame: a 64 KiB buffer holds more than 200 of them.
  assert.ok(buffers.size >= 2 && buffers.size <= 3, `${buffers.size} buffers for 400 frames`);
});
