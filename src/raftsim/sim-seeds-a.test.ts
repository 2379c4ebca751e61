// Seeds 1..50 of the Raft simulator (the other half runs beside it in sim-seeds-b).
import { test } from 'node:test';
import { runSeedRange } from './sim-seeds.js';

test('simulated clusters keep every Raft safety property and linearizable histories: seeds 1-50', { timeout: 600_000 }, async () => {
  await runSeedRange(1, 50);
});
