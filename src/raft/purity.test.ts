// The Raft core must stay a pure, deterministic state machine: anything that reads the
// clock, randomness, the environment or does I/O would break replay from a seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forbiddenEverywhere, forbiddenUsesIn, scanForImpurities, type ForbiddenUse } from '../purity/index.js';

// Tests run from dist/src/raft; the sources are in src/raft.
const sourceFolder = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'raft');

const forbidden: readonly ForbiddenUse[] = [...forbiddenEverywhere, [/from\s+['"](?!\.)/, 'a package import (the core imports only relative files)']];

test('the raft core uses no clock, randomness, environment, timers or I/O', () => {
  const { files, violations } = scanForImpurities(sourceFolder, forbidden);
  assert.ok(files >= 15, `found only ${files} source files in ${sourceFolder}`);
  assert.deepEqual(violations, []);
});

test('the purity scan catches a forbidden use', () => {
  const sample = "import { readFileSync } from 'node:fs';\nconst now = Date.now();";
  assert.deepEqual(forbiddenUsesIn(sample, forbidden), ['a node: import', 'the wall clock', 'a package import (the core imports only relative files)']);
});
