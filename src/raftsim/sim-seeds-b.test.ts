// Seeds 51..100 of the Raft simulator (the other half runs beside it in sim-seeds-a).
import { test } from 'node:test';
import { runSeedRange } from './sim-seeds.js';

test('simulated clusters keep every Raft safety property and linearizable histories: seeds 51-100', { timeout: 600_000 }, async () => {
  await runSeedRange(51, 50);
});
