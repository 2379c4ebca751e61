// npm run sim -- --seeds N [--seed S] [--steps K] [--faulty-ms T] [--break vote-log|second-vote]
// Runs N seeds (or the one given) and prints `sim: N seeds, V violations`; for a
// violation, the seed and a trace that replays it.
import { runSeed } from './run-seed.js';
import type { RaftSimulationFaults } from '../raft/index.js';

function flag(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const seedsCount = Number(flag('seeds') ?? '10');
const single = flag('seed');
const eventsMax = Number(flag('steps') ?? '400000');
const faultyMs = Number(flag('faulty-ms') ?? '4000');
const firstSeed = Number(flag('first-seed') ?? '1');
const broken = flag('break');
const simulationFaults: RaftSimulationFaults | undefined =
  broken === 'vote-log' ? { grantVoteWithoutLogCheck: true } : broken === 'second-vote' ? { grantSecondVoteInTerm: true } : undefined;
if (broken !== undefined && simulationFaults === undefined) {
  process.stderr.write(`sim: unknown --break ${broken} (vote-log or second-vote)\n`);
  process.exit(1);
}
for (const [name, value] of [['seeds', seedsCount], ['steps', eventsMax], ['faulty-ms', faultyMs]] as const) {
  if (!Number.isInteger(value) || value <= 0) {
    process.stderr.write(`sim: --${name} must be a positive integer\n`);
    process.exit(1);
  }
}

const seeds = single !== undefined ? [Number(single)] : Array.from({ length: seedsCount }, (_, index) => firstSeed + index);
let violations = 0;
const started = Date.now();
const totals = { events: 0, operations: 0, acknowledged: 0, crashes: 0, partitions: 0, transfers: 0, membershipChanges: 0, unknown: 0 };
for (const seed of seeds) {
  const result = await runSeed({ seed, eventsMax, faultyMs, simulationFaults });
  totals.events += result.stats.events;
  totals.operations += result.stats.operations;
  totals.acknowledged += result.stats.acknowledged;
  totals.crashes += result.stats.crashes;
  totals.partitions += result.stats.partitions;
  totals.transfers += result.stats.transfers;
  totals.membershipChanges += result.stats.membershipChanges;
  if (result.stats.linearizability === 'unknown') totals.unknown += 1;
  if (result.violations.length > 0) {
    violations += 1;
    process.stdout.write(`seed ${seed}: ${result.violations.length} violation(s):\n  ${result.violations.slice(0, 5).join('\n  ')}\n${result.trace}\n`);
  } else if (single !== undefined || process.env.SIM_VERBOSE) {
    process.stdout.write(`seed ${seed}: ok ${JSON.stringify(result.stats)}\n`);
  }
}
const seconds = (Date.now() - started) / 1000;
process.stdout.write(`sim: ${seeds.length} seeds, ${violations} violations (${seconds.toFixed(1)} s; ${JSON.stringify(totals)})\n`);
process.exitCode = violations > 0 ? 1 : 0;
