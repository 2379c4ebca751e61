// The simulator must catch a Raft that breaks a rule: with votes granted without the
// §5.4.1 log check, or a second vote in a term, some seed must report a violation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeed } from './run-seed.js';
import type { RaftSimulationFaults } from '../raft/index.js';

async function firstViolation(simulationFaults: RaftSimulationFaults, seedsMax: number): Promise<{ seed: number; violations: readonly string[] } | null> {
  for (let seed = 1; seed <= seedsMax; seed++) {
    const result = await runSeed({ seed, eventsMax: 400_000, faultyMs: 4000, simulationFaults });
    if (result.violations.length > 0) return { seed, violations: result.violations };
  }
  return null;
}

test('a vote granted without the log up-to-date check (§5.4.1) is caught', { timeout: 600_000 }, async () => {
  const found = await firstViolation({ grantVoteWithoutLogCheck: true }, 40);
  assert.ok(found !== null, 'no seed of 40 caught the broken rule');
  console.log(`broken §5.4.1 caught at seed ${found.seed}: ${found.violations[0]}`);
  // Caught by a checked property, or by an assertion of the core meeting an impossible state.
  assert.match(found.violations.join('\n'), /leader completeness|state machine safety|log matching|linearizability|two leaders|assertion failed/);
});

test('a second vote in one term (§5.2) is caught', { timeout: 600_000 }, async () => {
  const found = await firstViolation({ grantSecondVoteInTerm: true }, 40);
  assert.ok(found !== null, 'no seed of 40 caught the broken rule');
  console.log(`broken §5.2 caught at seed ${found.seed}: ${found.violations[0]}`);
  assert.match(found.violations.join('\n'), /two leaders|election safety|state machine safety|assertion failed/);
});
