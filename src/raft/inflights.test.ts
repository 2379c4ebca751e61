import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftAssertionError } from './assert.js';
import { Inflights } from './inflights.js';
import type { LogIndex } from './types.js';

test('the window is full at messagesMax messages', () => {
  const inflights = new Inflights(3, 1_000_000);
  for (let index = 1; index <= 3; index++) {
    assert.equal(inflights.full(), false);
    inflights.add(index as LogIndex, 10);
  }
  assert.equal(inflights.full(), true);
  assert.throws(() => inflights.add(4 as LogIndex, 10), RaftAssertionError);
});

test('the window is full at bytesMax bytes even with message slots left', () => {
  const inflights = new Inflights(10, 100);
  inflights.add(1 as LogIndex, 60);
  assert.equal(inflights.full(), false);
  inflights.add(2 as LogIndex, 60);
  assert.equal(inflights.full(), true);
  assert.equal(inflights.bytes, 120);
});

test('an acknowledgement frees every message up to its index, across the ring wrap', () => {
  const inflights = new Inflights(4, 1_000_000);
  for (let index = 1; index <= 4; index++) inflights.add((index * 10) as LogIndex, 5);
  inflights.freeLessOrEqual(25 as LogIndex);
  assert.equal(inflights.count, 2);
  assert.equal(inflights.bytes, 10);
  inflights.add(50 as LogIndex, 5);
  inflights.add(60 as LogIndex, 5);
  assert.equal(inflights.full(), true);
  inflights.freeLessOrEqual(55 as LogIndex);
  assert.equal(inflights.count, 1);
  inflights.freeLessOrEqual(1000 as LogIndex);
  assert.equal(inflights.count, 0);
  assert.equal(inflights.bytes, 0);
});

test('indexes must increase', () => {
  const inflights = new Inflights(4, 1000);
  inflights.add(5 as LogIndex, 1);
  assert.throws(() => inflights.add(5 as LogIndex, 1), RaftAssertionError);
});
