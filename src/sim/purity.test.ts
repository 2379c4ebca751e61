// The simulator's building blocks must be as pure as the code they drive: anything that
// reads the clock, real randomness, the environment or does I/O would break replay of a
// seed. (Tests may read the environment, for ATOLL_SIM_SEED, so they are not scanned.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forbiddenEverywhere, forbiddenUsesIn, scanForImpurities, type ForbiddenUse } from '../purity/index.js';

// Tests run from dist/src/sim; the sources are in src/sim.
const sourceFolder = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'sim');

const forbidden: readonly ForbiddenUse[] = [
  ...forbiddenEverywhere,
  [/\bMessageChannel\b/, 'a macrotask channel'],
  [/\bglobalThis\b/, 'global state'],
  [/from\s+['"](?!\.)/, 'a package import (the simulator imports only relative files)'],
];

test('the simulator uses no clock, randomness, environment, timers or I/O', () => {
  const { files, violations } = scanForImpurities(sourceFolder, forbidden);
  assert.ok(files >= 5, `found only ${files} source files in ${sourceFolder}`);
  assert.deepEqual(violations, []);
});

test('the purity scan catches a forbidden use', () => {
  const sample = "import { randomInt } from 'node:crypto';\nconst wait = new Promise((resolve) => setImmediate(resolve));";
  assert.deepEqual(forbiddenUsesIn(sample, forbidden), ['a node: import', 'timers', 'a package import (the simulator imports only relative files)']);
});
