// Placement, the planner and reconciliation decide from the state and the inputs they are
// given, so that a test (or the simulator) replays a decision exactly. The master folder
// also holds its server, so these files are scanned one by one rather than as a folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forbiddenEverywhere, forbiddenUsesIn } from '../purity/index.js';

// Tests run from dist/src/master; the sources are in src/master.
const sourceFolder = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'master');
const pureFiles = ['placement.ts', 'planner.ts', 'reconcile.ts'];

test('placement, planner and reconciliation use no clock, randomness, environment, timers or I/O', () => {
  for (const file of pureFiles) {
    const source = readFileSync(join(sourceFolder, file), 'utf8');
    assert.deepEqual(forbiddenUsesIn(source, forbiddenEverywhere), [], file);
  }
});
