// Fails when a committed generated module differs from what the generator produces now,
// so a .proto edit (or a generator change) cannot land without `npm run proto`.
// Tests run from the repository root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { repositoryProtoSets } from './generate-proto-set.js';
import { compareProtoSet } from './staleness.js';

test('committed generated code matches the .proto files', () => {
  const stale = repositoryProtoSets.flatMap((set) => compareProtoSet(set)).filter((status) => status.state !== 'current');
  if (stale.length > 0) {
    assert.fail(`generated code is stale: run npm run proto\n${stale.map((status) => `  ${status.path} (${status.state})`).join('\n')}`);
  }
});
