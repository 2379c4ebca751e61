// Test support: runs a range of seeds and fails with every violation's seed and trace.
import assert from 'node:assert/strict';
import { runSeed } from './run-seed.js';

// ATOLL_SIM_SEEDS scales the seeds each test file runs; ATOLL_SIM_FIRST_SEED moves them.
export async function runSeedRange(first: number, count: number): Promise<void> {
  const scaled = Number(process.env.ATOLL_SIM_SEEDS ?? count);
  const start = Number(process.env.ATOLL_SIM_FIRST_SEED ?? 0) + first;
  const failures: string[] = [];
  let operations = 0;
  for (let seed = start; seed < start + scaled; seed++) {
    const result = await runSeed({ seed, eventsMax: 400_000, faultyMs: 4000 });
    operations += result.stats.operations;
    if (result.violations.length > 0) failures.push(`seed ${seed}:\n  ${result.violations.join('\n  ')}\n${result.trace}`);
  }
  console.log(`sim: ${scaled} seeds, ${failures.length} violations (seeds ${start}..${start + scaled - 1}, ${operations} client operations)`);
  assert.equal(failures.length, 0, failures.join('\n'));
}
