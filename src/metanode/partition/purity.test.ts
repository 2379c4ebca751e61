// The partition's namespace is applied from the Raft log on every replica: anything that
// reads the clock, randomness, the environment or does I/O would make replicas diverge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forbiddenEverywhere, scanForImpurities } from '../../purity/index.js';

// Tests run from dist/src/metanode/partition; the sources are in src/metanode/partition.
const sourceFolder = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'src', 'metanode', 'partition');

test('the partition namespace uses no clock, randomness, environment, timers or I/O', () => {
  const { files, violations } = scanForImpurities(sourceFolder, forbiddenEverywhere);
  assert.ok(files >= 3, `found only ${files} source files in ${sourceFolder}`);
  assert.deepEqual(violations, []);
});
