import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeTable } from './node-table.js';
import { rootNodeId } from './protocol.js';

test('paths are built from the names the kernel looked up', () => {
  const table = new NodeTable();
  assert.equal(table.path(rootNodeId), '/');
  const dir = table.lookedUp(rootNodeId, 'dir', 10);
  const file = table.lookedUp(dir, 'file', 11);
  assert.equal(table.path(dir), '/dir');
  assert.equal(table.path(file), '/dir/file');
  assert.equal(table.childPath(dir, 'new'), '/dir/new');
  assert.equal(table.childPath(rootNodeId, 'top'), '/top');
  assert.equal(table.path(999), undefined);
  assert.equal(table.childPath(999, 'x'), undefined);
});

test('a name looked up again is the same node with one more lookup; forget drops it at zero', () => {
  const table = new NodeTable();
  const id = table.lookedUp(rootNodeId, 'a', 5);
  assert.equal(table.lookedUp(rootNodeId, 'a', 5), id);
  assert.equal(table.lookupsOf(id), 2);
  table.forget(id, 1);
  assert.ok(table.has(id));
  table.forget(id, 1);
  assert.ok(!table.has(id));
  assert.equal(table.find(rootNodeId, 'a'), undefined);
  // A new lookup makes a new node id: ids are never reused.
  assert.notEqual(table.lookedUp(rootNodeId, 'a', 5), id);
  table.forget(rootNodeId, 100);
  assert.ok(table.has(rootNodeId), 'the root is never forgotten');
});

test('hard links: names of one inode are one node, whose path survives the removal of either name', () => {
  const table = new NodeTable();
  const first = table.lookedUp(rootNodeId, 'a', 7);
  const second = table.lookedUp(rootNodeId, 'b', 7);
  assert.equal(second, first);
  assert.equal(table.lookupsOf(first), 2);
  table.removed(rootNodeId, 'a');
  assert.equal(table.path(first), '/b');
  table.removed(rootNodeId, 'b');
  assert.equal(table.path(first), undefined);
  assert.equal(table.pathForHandle(first), '/b');
  // Without inode numbers every name is its own node.
  const plain = new NodeTable();
  assert.notEqual(plain.lookedUp(rootNodeId, 'a', undefined), plain.lookedUp(rootNodeId, 'b', undefined));
});

test('unlink detaches the node: no path, the last one kept for handles, an open handle found', () => {
  const table = new NodeTable();
  const dir = table.lookedUp(rootNodeId, 'd', 2);
  const file = table.lookedUp(dir, 'f', 3);
  table.opened(file, 9n);
  table.removed(dir, 'f');
  assert.equal(table.path(file), undefined);
  assert.equal(table.pathForHandle(file), '/d/f');
  assert.equal(table.anyHandle(file), 9n);
  table.released(file, 9n);
  assert.equal(table.anyHandle(file), undefined);
  assert.equal(table.find(dir, 'f'), undefined);
  // A directory removed takes its children's paths with it.
  const child = table.lookedUp(dir, 'g', 4);
  table.removed(rootNodeId, 'd');
  assert.equal(table.path(child), undefined);
});

test('rename moves the name, detaches what it replaced, and children follow a renamed directory', () => {
  const table = new NodeTable();
  const dir = table.lookedUp(rootNodeId, 'd', 2);
  const file = table.lookedUp(dir, 'f', 3);
  const target = table.lookedUp(rootNodeId, 't', 4);
  table.renamed(dir, 'f', rootNodeId, 't');
  assert.equal(table.path(file), '/t');
  assert.equal(table.path(target), undefined);
  assert.equal(table.pathForHandle(target), '/t');
  assert.equal(table.find(rootNodeId, 't'), file);
  const inner = table.lookedUp(dir, 'inner', 5);
  table.renamed(rootNodeId, 'd', rootNodeId, 'e');
  assert.equal(table.path(inner), '/e/inner');
  table.renamed(rootNodeId, 'e', rootNodeId, 'e');
  assert.equal(table.path(inner), '/e/inner');
});

test('a name that now leads to another inode moves to that inode\'s node', () => {
  const table = new NodeTable();
  const old = table.lookedUp(rootNodeId, 'x', 20);
  table.opened(old, 1n);
  const fresh = table.lookedUp(rootNodeId, 'x', 21);
  assert.notEqual(fresh, old);
  assert.equal(table.path(fresh), '/x');
  assert.equal(table.path(old), undefined);
  assert.equal(table.pathForHandle(old), '/x');
  // Forgetting the old node leaves the new one's name alone.
  table.forget(old, 1);
  assert.equal(table.find(rootNodeId, 'x'), fresh);
});
