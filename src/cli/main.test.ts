import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from './main.js';

test('atoll --help exits 0', async () => {
  assert.equal(await main(['--help']), 0);
});
