import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftAssertionError } from './assert.js';
import { ConfChangeType, decodeConfChange, encodeConfChange } from './conf-change.js';
import type { NodeId } from './types.js';

test('a conf change survives encoding, including large ids and a context', () => {
  const change = { type: ConfChangeType.AddLearner, nodeId: Number.MAX_SAFE_INTEGER as NodeId, context: new Uint8Array([1, 2, 3]) };
  assert.deepEqual(decodeConfChange(encodeConfChange(change)), change);
});

test('truncated or unknown encodings are refused', () => {
  const bytes = encodeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 3 as NodeId, context: new Uint8Array([9]) });
  assert.throws(() => decodeConfChange(bytes.slice(0, bytes.length - 1)), RaftAssertionError);
  const unknownType = bytes.slice();
  unknownType[1] = 42;
  assert.throws(() => decodeConfChange(unknownType), RaftAssertionError);
});
