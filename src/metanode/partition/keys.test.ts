import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAtollError, StatusCode } from '../../errors/index.js';
import { compareBytes } from '../testing/map-engine.js';
import {
  counterKey, decodeCounterKey, decodeCounterValue, decodeDentryKey, decodeInodeKey, decodeToFreeKey, decodeTrashKey,
  decodeXattrKey, decodeLinkDropKey, linkDropKey, dentryKey, dentryPrefix, encodeCounterValue, inodeKey, KeyTag, toFreeKey, trashKey, xattrKey, xattrPrefix,
  decodeExtentReleaseKey, decodeOpenByKey, decodePendingLinkKey, decodeRenameTxnKey, renameTxnKey, decodeSessionKey, decodeSessionLeaseKey, extentReleaseKey, openByKey,
  openByPrefix, pendingLinkKey, sessionKey, sessionLeaseKey, sessionOpenInodeKey,
} from './keys.js';
import {
  decodeExtentReleaseValue, decodeOpenCountValue, decodePendingLinkValue, decodeSessionValue, decodeTrashValue, encodeExtentReleaseValue,
  encodeOpenCountValue, encodePendingLinkValue, encodeSessionValue, encodeTrashValue,
} from './values.js';

const utf8 = new TextEncoder();
const isInvalidArgument = (error: unknown) => isAtollError(error, StatusCode.INVALID_ARGUMENT);
const safeIno = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 });

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  return key.length >= prefix.length && prefix.every((byte, index) => key[index] === byte);
}

test('an inode key is the tag I and the ino as 8 big-endian bytes', () => {
  assert.deepEqual([...inodeKey(0x0102_0304_0506)], [0x49, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06]);
  assert.deepEqual([...inodeKey(Number.MAX_SAFE_INTEGER)], [0x49, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
});

test('a dentry key is the tag D, the parent ino big-endian and the UTF-8 bytes of the name', () => {
  assert.deepEqual([...dentryKey(258, 'é')], [0x44, 0, 0, 0, 0, 0, 0, 1, 2, 0xc3, 0xa9]);
  // ASCII names take a path of their own; both give the bytes TextEncoder gives.
  for (const text of ['a', 'entry-0000042', '~!@#$%^&*()_+{}|:"<>? \x7f', 'aé', 'é-a', '𝄞x', 'x'.repeat(255)]) {
    assert.deepEqual([...dentryKey(7, text).subarray(9)], [...new TextEncoder().encode(text)], text);
  }
});

test('keys round-trip through their decoders', () => {
  fc.assert(fc.property(safeIno, safeIno, name, (first, second, text) => {
    assert.equal(decodeInodeKey(inodeKey(first)), first);
    assert.equal(decodeToFreeKey(toFreeKey(first)), first);
    assert.deepEqual(decodeDentryKey(dentryKey(first, text)), { parentIno: first, name: text });
    assert.deepEqual(decodeXattrKey(xattrKey(first, text)), { ino: first, name: text });
    assert.deepEqual(decodeTrashKey(trashKey(first, second, first, text)), { hour: first, parentIno: second, ino: first, name: text });
    assert.equal(decodeCounterValue(encodeCounterValue(first)), first);
  }));
  assert.equal(decodeCounterKey(counterKey('inode_cursor')), 'inode_cursor');
});

test('inode keys sort as their inode numbers', () => {
  fc.assert(fc.property(safeIno, safeIno, (left, right) => {
    assert.equal(Math.sign(compareBytes(inodeKey(left), inodeKey(right))), Math.sign(left - right));
  }));
});

test('dentry keys sort by parent, then by the bytes of the name', () => {
  fc.assert(fc.property(safeIno, name, safeIno, name, (leftParent, leftName, rightParent, rightName) => {
    const expected = leftParent !== rightParent
      ? Math.sign(leftParent - rightParent)
      : Math.sign(compareBytes(utf8.encode(leftName), utf8.encode(rightName)));
    assert.equal(Math.sign(compareBytes(dentryKey(leftParent, leftName), dentryKey(rightParent, rightName))), expected);
  }));
});

test('a directory prefix holds exactly the dentries of that directory', () => {
  fc.assert(fc.property(safeIno, safeIno, name, (parent, other, text) => {
    assert.ok(startsWith(dentryKey(parent, text), dentryPrefix(parent)));
    assert.equal(startsWith(dentryKey(other, text), dentryPrefix(parent)), other === parent);
    assert.ok(startsWith(xattrKey(parent, text), xattrPrefix(parent)));
    assert.ok(!startsWith(inodeKey(parent), dentryPrefix(parent)));
  }));
});

test('decoding refuses keys of another kind, truncated keys and trailing bytes', () => {
  const inode = inodeKey(7);
  assert.throws(() => decodeDentryKey(inode), isInvalidArgument);
  assert.throws(() => decodeInodeKey(inode.subarray(0, 8)), isInvalidArgument);
  assert.throws(() => decodeInodeKey(Uint8Array.of(...inode, 0)), isInvalidArgument);
  assert.throws(() => decodeInodeKey(new Uint8Array(0)), isInvalidArgument);
  assert.throws(() => decodeDentryKey(dentryPrefix(7)), isInvalidArgument, 'a dentry key without a name');
  assert.throws(() => decodeToFreeKey(toFreeKey(7).subarray(0, 5)), isInvalidArgument);
  assert.throws(() => decodeCounterValue(new Uint8Array(7)), isInvalidArgument);
});

test('decoding refuses a name that is not valid UTF-8', () => {
  const key = Uint8Array.of(...dentryPrefix(1), 0xff, 0xfe);
  assert.throws(() => decodeDentryKey(key), isInvalidArgument);
  assert.throws(() => decodeXattrKey(Uint8Array.of(...xattrPrefix(1), 0xc3)), isInvalidArgument);
});

test('decoding refuses an integer beyond 2^53 - 1, which a JS number cannot hold exactly', () => {
  const key = Uint8Array.of(KeyTag.inode, 0, 0x20, 0, 0, 0, 0, 0, 0);
  assert.throws(() => decodeInodeKey(key), isInvalidArgument);
});

test('encoding refuses negative, fractional or unsafe integers, empty names and lone surrogates', () => {
  assert.throws(() => inodeKey(-1), isInvalidArgument);
  assert.throws(() => inodeKey(1.5), isInvalidArgument);
  assert.throws(() => inodeKey(2 ** 53), isInvalidArgument);
  assert.throws(() => dentryKey(1, ''), isInvalidArgument);
  assert.throws(() => dentryKey(1, 'a\uD800b'), isInvalidArgument);
  assert.throws(() => counterKey('Inode Cursor'), isInvalidArgument);
});

test('record kinds never share a prefix: each tag is a distinct byte', () => {
  const tags = Object.values(KeyTag);
  assert.equal(new Set(tags).size, tags.length);
  assert.equal(String.fromCharCode(...tags), 'ACDEFIKLOPRSTX');
});

test('session, open-by, lease, extent release and pending keys round-trip and sort numerically', () => {
  fc.assert(fc.property(safeIno, safeIno, (first, second) => {
    assert.deepEqual(decodeSessionKey(sessionKey(first)), { sessionId: first });
    assert.deepEqual(decodeSessionKey(sessionOpenInodeKey(first, second)), { sessionId: first, ino: second });
    assert.deepEqual(decodeOpenByKey(openByKey(first, second)), { ino: first, sessionId: second });
    assert.deepEqual(decodeSessionLeaseKey(sessionLeaseKey(first, second)), { expiresSec: first, sessionId: second });
    assert.equal(decodeExtentReleaseKey(extentReleaseKey(first)), first);
    assert.equal(decodePendingLinkKey(pendingLinkKey(first)), first);
    assert.equal(decodeLinkDropKey(linkDropKey(first)), first);
    assert.equal(Math.sign(compareBytes(linkDropKey(first), linkDropKey(second))), Math.sign(first - second));
    assert.deepEqual(decodeRenameTxnKey(renameTxnKey(first, second)), { sourcePartitionId: first, txSeq: second });
    assert.equal(Math.sign(compareBytes(sessionLeaseKey(first, 1), sessionLeaseKey(second, 1))), Math.sign(first - second));
  }));
  assert.ok(startsWith(sessionOpenInodeKey(3, 4), sessionKey(3)));
  assert.ok(startsWith(openByKey(3, 4), openByPrefix(3)));
  assert.throws(() => decodeSessionKey(Uint8Array.of(KeyTag.session, 0, 0, 0, 0, 0, 0, 0, 1, 0)), isInvalidArgument);
});

test('bookkeeping values round-trip and refuse a wrong length', () => {
  const session = { openedSec: 1, openedNsec: 2, renewedSec: 3, renewedNsec: 4, leaseSec: 5, openInodes: 6, clientInfo: 'hôte' };
  assert.deepEqual(decodeSessionValue(encodeSessionValue(session)), session);
  assert.equal(decodeOpenCountValue(encodeOpenCountValue(0xffff_ffff)), 0xffff_ffff);
  const trash = { deletedSec: Number.MAX_SAFE_INTEGER, deletedNsec: 999_999_999, type: 2 };
  assert.deepEqual(decodeTrashValue(encodeTrashValue(trash)), trash);
  const release = { partitionId: 7, ranges: [{ extentId: 1, extentOffset: 2 ** 40, size: 0xffff_ffff }, { extentId: 2, extentOffset: 0, size: 1 }] };
  assert.deepEqual(decodeExtentReleaseValue(encodeExtentReleaseValue(release)), release);
  const pending = { createdSec: 10, createdNsec: 20, parentIno: 30, name: 'réponse.txt' };
  assert.deepEqual(decodePendingLinkValue(encodePendingLinkValue(pending)), pending);
  assert.throws(() => decodeTrashValue(new Uint8Array(12)), isInvalidArgument);
  assert.throws(() => decodeExtentReleaseValue(encodeExtentReleaseValue(release).subarray(0, 20)), isInvalidArgument);
  assert.throws(() => decodeSessionValue(new Uint8Array(10)), isInvalidArgument);
  assert.throws(() => encodeOpenCountValue(-1), isInvalidArgument);
});
