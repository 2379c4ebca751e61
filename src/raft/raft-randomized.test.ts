// Seeded randomized test: whole groups of 3 and 5 under message loss, duplication,
// reordering, partitions, crashes, compaction and leadership churn, with every Raft
// safety property checked after every step, and liveness checked once faults stop.
//
// Replay a failure:   ATOLL_RAFT_SEED=<seed printed below> node scripts/run-tests.mjs raft-randomized
// Run longer:         ATOLL_RAFT_ITERATIONS=50 node scripts/run-tests.mjs raft-randomized
// Replay one run:     ATOLL_RAFT_RUN_SEED=<run seed> ATOLL_RAFT_NODE_COUNT=<3|5> (same command)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { createRandom } from '../random/index.js';
import type { Random } from '../random/index.js';
import { ReadOnlyOption } from './read-only.js';
import type { NodeId } from './types.js';
import { Role } from './types.js';
import { Network, textBytes } from './testing/network.js';
import { SafetyChecker } from './testing/safety.js';

const seed = process.env.ATOLL_RAFT_SEED !== undefined ? Number(process.env.ATOLL_RAFT_SEED) : randomInt(2 ** 31);
const iterations = Number(process.env.ATOLL_RAFT_ITERATIONS ?? '1');
const runsPerIteration = 16;
const stepsPerRun = 700;

function pick<T>(random: Random, items: readonly T[]): T {
  return items[random.nextInt(items.length)];
}

interface RunReport {
  readonly proposals: number;
  readonly committed: number;
  readonly leaders: number;
  readonly checks: number;
}

function simulate(runSeed: number, nodeCount: number): RunReport {
  const random = createRandom(runSeed);
  const checkQuorum = random.nextInt(4) !== 0;
  const readOnlyOption = checkQuorum && random.nextInt(2) === 0 ? ReadOnlyOption.LeaseBased : ReadOnlyOption.Safe;
  // Leases assume clocks that do not drift: in lease runs every node ticks together.
  const clocksDrift = readOnlyOption === ReadOnlyOption.Safe;
  // From the run seed rather than a draw, so that the draws (and older seeds) stay as they were.
  const skipCommitBroadcast = runSeed % 2 === 1;
  const network = Network.withNodes(random, nodeCount, {
    // Small limits so that flow control, batching and back-off are exercised.
    limits: { electionTicks: 10, heartbeatTicks: 1, inflightMessagesMax: 4, inflightBytesMax: 1024, messageBytesMax: 256, uncommittedBytesMax: 4096 },
    preVote: random.nextInt(4) !== 0,
    checkQuorum,
    readOnlyOption,
    skipCommitBroadcast,
  });
  const ids = [...network.nodes.keys()];
  const checker = new SafetyChecker(network);
  if (process.env.ATOLL_RAFT_TRACE !== undefined) console.log(`run ${runSeed}: checkQuorum=${checkQuorum} options=${JSON.stringify(network.node(1).options)}`);
  network.reorder = random.nextInt(2) === 0;
  network.duplicateRate = 0.02;
  let proposals = 0;
  let reads = 0;
  let leaderChanges = 0;
  let lastLeader: NodeId | undefined;

  for (let step = 0; step < stepsPerRun; step++) {
    const action = random.nextInt(100);
    const id = pick(random, ids);
    const node = network.node(id);
    if (action < 40) {
      const count = 1 + random.nextInt(20);
      for (let delivered = 0; delivered < count && network.deliverOne(); delivered++) checker.check();
    } else if (action < 55 && clocksDrift) {
      node.rawNode.tick();
    } else if (action < 65) {
      for (const other of network.nodes.values()) other.rawNode.tick();
    } else if (action < 77) {
      node.rawNode.propose(textBytes(`r${runSeed}-p${proposals++}`));
    } else if (action < 79) {
      network.isolate(id);
    } else if (action < 81) {
      // Cut off whoever leads now: leaves leaders with uncommitted tails behind.
      const leader = network.leader();
      if (leader !== undefined) network.isolate(leader.id);
    } else if (action < 83) {
      network.cut(id, pick(random, ids));
    } else if (action < 86) {
      network.heal();
    } else if (action < 88) {
      network.dropRate = pick(random, [0, 0, 0.05, 0.2, 0.5]);
    } else if (action < 91) {
      node.compact();
    } else if (action < 92) {
      node.restart();
    } else if (action < 94) {
      node.rawNode.transferLeadership(pick(random, ids));
    } else if (action < 97) {
      const context = `read-${reads++}`;
      if (node.rawNode.readIndex(textBytes(context)) === undefined) {
        checker.expectRead({ node: id, context, committedAtRequest: checker.committedIndex });
      }
    } else {
      node.rawNode.campaign();
    }
    network.processReadies();
    checker.check();
    const leader = network.leader();
    if (leader !== undefined && leader.id !== lastLeader) {
      leaderChanges++;
      lastLeader = leader.id;
    }
  }

  // Liveness: without faults a leader emerges and everyone converges on its log.
  network.heal();
  network.dropRate = 0;
  network.duplicateRate = 0;
  network.reorder = false;
  for (let tick = 0; ; tick++) {
    assert.ok(tick < 1000, `no convergence within 1000 ticks after healing (run seed ${runSeed})`);
    network.tickAll();
    checker.check();
    const leader = network.leader();
    if (leader === undefined) continue;
    const leaderStatus = leader.rawNode.status();
    const converged = [...network.nodes.values()].every((other) => {
      const status = other.rawNode.status();
      return status.lead === leader.id && status.applied === leaderStatus.commit && other.appliedData.length === leader.appliedData.length;
    });
    if (converged && leaderStatus.commit === leader.storage.lastIndex()) break;
  }
  const leader = network.leader()!;
  assert.equal(leader.rawNode.status().role, Role.Leader);
  return { proposals, committed: leader.appliedData.length, leaders: leaderChanges, checks: checker.checks };
}

test(`randomized clusters of 3 and 5 keep every Raft safety property under faults (seed ${seed}, iterations ${iterations})`, () => {
  console.log(`raft randomized test: ATOLL_RAFT_SEED=${seed} ATOLL_RAFT_ITERATIONS=${iterations}`);
  if (process.env.ATOLL_RAFT_RUN_SEED !== undefined) {
    const report = simulate(Number(process.env.ATOLL_RAFT_RUN_SEED), Number(process.env.ATOLL_RAFT_NODE_COUNT ?? '3'));
    console.log(`raft randomized test: one run: ${JSON.stringify(report)}`);
    return;
  }
  const seeds = createRandom(seed);
  let totals = { proposals: 0, committed: 0, leaders: 0, checks: 0 };
  const runs = runsPerIteration * iterations;
  for (let run = 0; run < runs; run++) {
    const runSeed = seeds.nextUint32();
    const nodeCount = run % 2 === 0 ? 3 : 5;
    let report: RunReport;
    try {
      report = simulate(runSeed, nodeCount);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`run ${run} (${nodeCount} nodes, run seed ${runSeed}) failed; replay with ATOLL_RAFT_SEED=${seed}: ${message}`, { cause: error });
    }
    totals = {
      proposals: totals.proposals + report.proposals,
      committed: totals.committed + report.committed,
      leaders: totals.leaders + report.leaders,
      checks: totals.checks + report.checks,
    };
  }
  console.log(`raft randomized test: ${runs} runs, ${totals.proposals} proposals, ${totals.committed} applied, ${totals.leaders} leader changes, ${totals.checks} safety checks`);
  // The runs must actually do something, or the checks above prove nothing.
  assert.ok(totals.committed > runs, `too few entries committed: ${totals.committed}`);
  assert.ok(totals.leaders >= runs, `too few leader changes: ${totals.leaders}`);
});
