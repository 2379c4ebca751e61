import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenFiles, isHiddenName } from './open-files.js';

test('libfuse hidden names are recognised, other names are not', () => {
  assert.equal(isHiddenName('/d/.fuse_hidden0000000200000001'), true);
  assert.equal(isHiddenName('/.fuse_hidden00000002000000ab'), true);
  assert.equal(isHiddenName('/d/.fuse_hidden'), false);
  assert.equal(isHiddenName('/d/x.fuse_hidden0000000200000001'), false);
});

test('a hidden file is answered by one of its handles until libfuse unlinks the hidden name', () => {
  const files = new OpenFiles();
  files.opened(7, '/d/a');
  files.opened(8, '/d/a');
  files.opened(9, '/d/other');
  assert.equal(files.hasOpen('/d/a'), true);
  files.hid('/d/a', '/d/.fuse_hidden0000000200000001');
  assert.equal(files.hasOpen('/d/a'), false);
  assert.equal(files.isHidden('/d/.fuse_hidden0000000200000001'), true);
  files.released(7);
  assert.equal(files.handleOfHidden('/d/.fuse_hidden0000000200000001'), 8);
  files.released(8);
  assert.equal(files.handleOfHidden('/d/.fuse_hidden0000000200000001'), undefined);
  files.forgetHidden('/d/.fuse_hidden0000000200000001');
  assert.equal(files.hiddenCount, 0);
  assert.equal(files.openCount, 1);
});

test('handles follow renames of the file and of its directories', () => {
  const files = new OpenFiles();
  files.opened(1, '/a/b/c');
  files.opened(2, '/a/bc');
  files.renamed('/a/b', '/x');
  assert.equal(files.hasOpen('/x/c'), true);
  assert.equal(files.hasOpen('/a/bc'), true, 'a sibling with a longer name is not under /a/b');
});
