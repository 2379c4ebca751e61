// One simulated cluster run from one seed. Everything that varies (the cluster's shape,
// the network's faults, crashes, partitions, membership changes, leader transfers, the
// clients' operations) comes from streams derived from the seed, and time is virtual, so
// a seed replays exactly. The production Raft core, multi-raft host, write-ahead log and
// snapshot store run unchanged; only the network, the disk and the clock are simulated.
import { AtollError } from '../errors/atoll-error.js';
import { SimulatedDisk } from '../disk/index.js';
import { ConfChangeType, Role, type NodeId, type RaftSimulationFaults } from '../raft/index.js';
import { RaftHost, openWalPersistence, type GroupMessage, type PeerAddress, type RaftTransport } from '../raftstore/index.js';
import { KeyValueStateMachine, appendCommand, casCommand, putCommand } from '../raftstore/testing/kv-state-machine.js';
import {
  HistoryRecorder,
  RandomStreams,
  Scheduler,
  SimulatedNetwork,
  Trace,
  checkKeyValueHistory,
  faultProfileCalm,
  formatTrace,
  randomFaultProfile,
  type KeyValueInput,
  type EventId,
  type KeyValueOutput,
} from '../sim/index.js';
import { ActivityDisk } from './activity-disk.js';
import { SafetyChecker } from './safety-checker.js';

export interface SeedOptions {
  readonly seed: number;
  // Events of the faulty phase at most (the --steps flag).
  readonly eventsMax: number;
  // Virtual time of the faulty phase.
  readonly faultyMs: number;
  // Deliberate protocol bugs, to show that the checks catch them.
  readonly simulationFaults?: RaftSimulationFaults;
}

export interface SeedResult {
  readonly seed: number;
  readonly violations: readonly string[];
  readonly trace: string;
  readonly stats: {
    readonly nodes: number;
    readonly groups: number;
    readonly events: number;
    readonly virtualMs: number;
    readonly operations: number;
    readonly acknowledged: number;
    readonly crashes: number;
    readonly partitions: number;
    readonly transfers: number;
    readonly membershipChanges: number;
    readonly linearizability: string;
  };
}

type NetMessage =
  | { readonly kind: 'batch'; readonly from: PeerAddress; readonly messages: readonly GroupMessage[] }
  | { readonly kind: 'snapshot'; readonly from: PeerAddress; readonly message: GroupMessage };

interface SimNode {
  readonly id: number;
  disk: SimulatedDisk;
  host: RaftHost | null;
  alive: boolean;
  // A start is under way (recovery is async): a second one would open the log twice.
  starting: boolean;
  incarnation: number;
  // Groups this node holds, and the peer records it was given for each.
  readonly groups: Map<number, PeerAddress[]>;
  readonly founding: Set<number>;
  readonly machines: Map<number, KeyValueStateMachine>;
  tickEvent: EventId | null;
}

const tickMs = 10;
const keysPerGroup = 3;
const clientCount = 4;
const dataDir = '/atoll';

function record(id: number): PeerAddress {
  return { nodeId: id as NodeId, host: 'sim', heartbeatPort: id, replicaPort: id };
}

// Any exception inside the run (a task that failed, an assertion) is a finding too: it
// is reported with the seed, like a violated property.
export async function runSeed(options: SeedOptions): Promise<SeedResult> {
  try {
    return await runSeedUnguarded(options);
  } catch (error) {
    return {
      seed: options.seed,
      violations: [`exception: ${error instanceof Error ? `${error.message}${error.cause instanceof Error ? ` (cause: ${error.cause.message})` : ''}` : String(error)}`],
      trace: `seed ${options.seed}: replay with npm run sim -- --seed ${options.seed}\n${error instanceof Error ? error.stack ?? '' : ''}`,
      stats: { nodes: 0, groups: 0, events: 0, virtualMs: 0, operations: 0, acknowledged: 0, crashes: 0, partitions: 0, transfers: 0, membershipChanges: 0, linearizability: 'not checked' },
    };
  }
}

async function runSeedUnguarded(options: SeedOptions): Promise<SeedResult> {
  const streams = new RandomStreams(options.seed);
  const shape = streams.stream('shape');
  const nodeCount = shape.nextInt(2) === 0 ? 3 : 5;
  const groupCount = 1 + shape.nextInt(3);
  const faults = randomFaultProfile(streams.stream('fault-profile'));
  const trace = new Trace(3000);
  const checker = new SafetyChecker();
  const hosts = new Map<number, RaftHost>();
  const scheduler = new Scheduler({ onEvent: () => checker.check(hosts), runEventsMax: options.eventsMax + 2_000_000 });
  const network = new SimulatedNetwork<NetMessage, number>({ scheduler, random: streams.stream('network'), faults });
  const history = new HistoryRecorder<KeyValueInput, KeyValueOutput>({ clock: { nowMs: () => scheduler.now() }, operationsMax: 100_000 });
  const nodes = new Map<number, SimNode>();
  const stats = { crashes: 0, partitions: 0, transfers: 0, membershipChanges: 0, acknowledged: 0 };
  let nextNodeId = nodeCount + 1;
  const note = (kind: string, node?: number, detail?: Record<string, unknown>) =>
    trace.record({ timeMs: scheduler.now(), kind, node, detail: detail as never });

  const sleep = (ms: number) => new Promise<void>((resolve) => scheduler.schedule(ms, resolve, 'sleep'));

  const transportFor = (self: number): RaftTransport => ({
    send: (to, messages) => network.send(self, to.nodeId, { kind: 'batch', from: record(self), messages }),
    sendHeartbeats: (to, messages) => network.send(self, to.nodeId, { kind: 'batch', from: record(self), messages }),
    sendSnapshot: async (to, message) => {
      network.send(self, to.nodeId, { kind: 'snapshot', from: record(self), message });
      return network.isUp(to.nodeId) && !network.isBlocked(self, to.nodeId);
    },
  });

  const startNode = async (node: SimNode): Promise<void> => {
    if (node.starting || node.alive) return;
    node.starting = true;
    try {
      await startNodeNow(node);
    } finally {
      node.starting = false;
    }
  };

  const startNodeNow = async (node: SimNode): Promise<void> => {
    node.incarnation += 1;
    const { persistence, recovered } = await openWalPersistence(new ActivityDisk(node.disk, scheduler), dataDir);
    const host = new RaftHost({
      nodeId: node.id as NodeId,
      persistence,
      transport: transportFor(node.id),
      random: streams.stream(`raft-${node.id}-${node.incarnation}`),
      defer: (work) => scheduler.schedule(0, work, `cycle-${node.id}`),
      limits: { requestTimeoutTicks: 60, snapshotEntriesMin: 40, entriesKeptAfterSnapshot: 8 },
      simulationFaults: options.simulationFaults,
      onApplied: (groupId, entry) => checker.onApplied(node.id, groupId, entry),
      onFatalError: (error) => note('node-fatal', node.id, { error: String((error as Error).message ?? error) }),
    });
    node.machines.clear();
    for (const [groupId, peers] of node.groups) {
      const machine = new KeyValueStateMachine();
      node.machines.set(groupId, machine);
      const state = recovered.get(groupId);
      host.createGroup({ groupId, peers, stateMachine: machine, bootstrap: state === undefined && node.founding.has(groupId), recovered: state });
    }
    node.host = host;
    node.alive = true;
    hosts.set(node.id, host);
    const handler = (_from: number, message: NetMessage) => {
      if (node.host !== host || host.isStopped) return;
      host.receive(message.kind === 'batch' ? message.messages : [message.message], message.from);
    };
    if (node.incarnation === 1) network.register(node.id, handler);
    else network.restart(node.id, handler);
    const tick = () => {
      if (node.host !== host || host.isStopped) return;
      host.tick();
      node.tickEvent = scheduler.schedule(tickMs, tick, `tick-${node.id}`);
    };
    node.tickEvent = scheduler.schedule(1 + streams.stream(`tick-${node.id}-${node.incarnation}`).nextInt(tickMs), tick, `tick-${node.id}`);
    note('start', node.id, { incarnation: node.incarnation, recoveredGroups: recovered.size });
  };

  const crashNode = (node: SimNode): void => {
    if (!node.alive || node.host === null) return;
    node.alive = false;
    node.host.halt();
    if (node.tickEvent !== null) scheduler.cancel(node.tickEvent);
    network.crash(node.id);
    // Unsynced writes are lost, the last record may be torn.
    node.disk = node.disk.crash(streams.stream(`crash-${node.id}-${node.incarnation}`));
    stats.crashes += 1;
    note('crash', node.id);
  };

  for (let id = 1; id <= nodeCount; id++) {
    const node: SimNode = { id, disk: new SimulatedDisk(), host: null, alive: false, starting: false, incarnation: 0, groups: new Map(), founding: new Set(), machines: new Map(), tickEvent: null };
    for (let groupId = 1; groupId <= groupCount; groupId++) {
      node.groups.set(groupId, Array.from({ length: nodeCount }, (_, index) => record(index + 1)));
      node.founding.add(groupId);
    }
    nodes.set(id, node);
  }
  for (const node of nodes.values()) await startNode(node);
  note('cluster', undefined, { nodes: nodeCount, groups: groupCount, faults: { ...faults } });

  const leaderOf = (groupId: number): SimNode | undefined =>
    [...nodes.values()].find((node) => node.alive && node.host !== null && node.groups.has(groupId) && node.host.status(groupId).role === Role.Leader);

  // Clients: sequential operations each, at the group's leader; an operation whose outcome
  // is unknown (timeout, crash) stays open in the history, which is what the checker expects.
  let clientsStop = false;
  const clientsDone: Promise<void>[] = [];
  for (let client = 0; client < clientCount; client++) {
    const random = streams.stream(`client-${client}`);
    const lastSeen = new Map<string, string | undefined>();
    clientsDone.push(
      new Promise<void>((resolve) =>
        scheduler.spawn(`client-${client}`, async () => {
          for (let sequence = 0; !clientsStop && sequence < 10_000; sequence++) {
            await sleep(1 + random.nextInt(15));
            const groupId = 1 + random.nextInt(groupCount);
            const key = `g${groupId}k${random.nextInt(keysPerGroup)}`;
            const leader = leaderOf(groupId);
            if (leader === undefined || leader.host === null) continue;
            const host = leader.host;
            const choice = random.nextInt(10);
            const value = `c${client}s${sequence}`;
            let input: KeyValueInput;
            if (choice < 3) input = { kind: 'get', key };
            else if (choice < 6) input = { kind: 'append', key, suffix: `.${value}` };
            else if (choice < 8) input = { kind: 'put', key, value };
            else input = { kind: 'cas', key, expected: lastSeen.get(key), value };
            const id = history.invoke(client, input);
            try {
              let output: KeyValueOutput;
              if (input.kind === 'get') {
                await host.readIndex(groupId);
                output = leader.machines.get(groupId)?.values.get(key);
                lastSeen.set(key, output);
              } else if (input.kind === 'append') {
                lastSeen.set(key, (await host.propose(groupId, appendCommand(key, input.suffix))) as string);
                output = undefined;
              } else if (input.kind === 'put') {
                await host.propose(groupId, putCommand(key, input.value));
                output = undefined;
                lastSeen.set(key, input.value);
              } else {
                output = (await host.propose(groupId, casCommand(key, input.expected ?? null, input.value))) as boolean;
                if (output) lastSeen.set(key, input.value);
              }
              history.respond(id, output);
              stats.acknowledged += 1;
            } catch (error) {
              if (!(error instanceof AtollError)) throw error;
              history.abandon(id);
            }
          }
          resolve();
        }),
      ),
    );
  }

  // Faults: crashes and restarts, partitions, leader transfers, member replacement.
  let faultsStop = false;
  const pendingRestarts = new Set<number>();
  scheduler.spawn('faults', async () => {
    const random = streams.stream('fault-actions');
    while (!faultsStop) {
      await sleep(50 + random.nextInt(400));
      if (faultsStop) break;
      const alive = [...nodes.values()].filter((node) => node.alive);
      const action = random.nextInt(12);
      if (action <= 1 && alive.length > 0) {
        const victim = alive[random.nextInt(alive.length)]!;
        crashNode(victim);
        pendingRestarts.add(victim.id);
        scheduler.schedule(20 + random.nextInt(800), () => {
          if (!pendingRestarts.delete(victim.id) || victim.alive) return;
          scheduler.spawn(`restart-${victim.id}`, () => startNode(victim));
        }, `restart-${victim.id}`);
      } else if (action === 2 && alive.length > 1) {
        const shuffled = alive.map((node) => node.id).sort(() => random.nextInt(3) - 1);
        const cut = 1 + random.nextInt(shuffled.length - 1);
        network.partition(shuffled.slice(0, cut), shuffled.slice(cut));
        stats.partitions += 1;
        note('partition', undefined, { a: shuffled.slice(0, cut), b: shuffled.slice(cut) });
        scheduler.schedule(50 + random.nextInt(1200), () => {
          network.heal();
          note('heal');
        }, 'heal');
      } else if (action === 3 && alive.length > 0) {
        const node = alive[random.nextInt(alive.length)]!;
        network.isolate(node.id);
        stats.partitions += 1;
        note('isolate', node.id);
        scheduler.schedule(50 + random.nextInt(800), () => {
          network.heal();
          note('heal');
        }, 'heal');
      } else if (action === 4) {
        const groupId = 1 + random.nextInt(groupCount);
        const leader = leaderOf(groupId);
        if (leader?.host) {
          const voters = leader.host.status(groupId).confState.voters.filter((id) => id !== leader.id);
          if (voters.length > 0) {
            const target = voters[random.nextInt(voters.length)]!;
            try {
              leader.host.transferLeadership(groupId, target);
              stats.transfers += 1;
              note('transfer', leader.id, { groupId, to: target });
            } catch {
              // refused (e.g. a transfer in progress): fine
            }
          }
        }
      } else if ((action === 5 || action === 7) && stats.membershipChanges < 4) {
        await replaceMember(1 + random.nextInt(groupCount), random.nextInt(1000));
      } else if (action === 6) {
        network.reorderBurst();
      }
    }
  });

  // Adds a brand-new node to a group as a voter, then removes another voter: ids are
  // never reused, a removed replica never comes back.
  async function replaceMember(groupId: number, choice: number): Promise<void> {
    const leader = leaderOf(groupId);
    // Without a leader there is nobody to propose to: try again at a later fault.
    if (leader?.host === null || leader === undefined) return;
    note('replace', leader.id, { groupId });
    const newId = nextNodeId++;
    const peers = [...leader.host!.peersOf(groupId), record(newId)];
    const node: SimNode = { id: newId, disk: new SimulatedDisk(), host: null, alive: false, starting: false, incarnation: 0, groups: new Map([[groupId, peers]]), founding: new Set(), machines: new Map(), tickEvent: null };
    nodes.set(newId, node);
    await startNode(node);
    try {
      await leader.host!.proposeConfChange(groupId, ConfChangeType.AddVoter, record(newId));
    } catch {
      note('add-failed', newId, { groupId });
      return;
    }
    stats.membershipChanges += 1;
    note('added', newId, { groupId });
    const current = leaderOf(groupId);
    if (current?.host == null) return;
    const voters = current.host.status(groupId).confState.voters.filter((id) => id !== newId && id !== current.id);
    if (voters.length === 0) return;
    const victimId = voters[choice % voters.length]!;
    try {
      await current.host.proposeConfChange(groupId, ConfChangeType.RemoveNode, record(victimId));
    } catch {
      note('remove-failed', victimId, { groupId });
      return;
    }
    stats.membershipChanges += 1;
    note('removed', victimId, { groupId });
    const victim = nodes.get(victimId)!;
    victim.groups.delete(groupId);
    if (victim.alive && victim.host !== null && victim.host.hasGroup(groupId)) victim.host.removeGroup(groupId);
  }

  // Faulty phase.
  let logMatchingCountdown = 0;
  const started = scheduler.now();
  while (scheduler.now() - started < options.faultyMs && scheduler.eventsRun < options.eventsMax && checker.violations.length === 0) {
    await scheduler.runForAsync(50, options.eventsMax);
    if (++logMatchingCountdown % 10 === 0) checker.checkLogMatching(hosts);
  }

  // Calm phase: no new faults, the network heals and turns reliable, crashed nodes return.
  faultsStop = true;
  network.heal();
  network.setFaults(faultProfileCalm);
  for (const node of nodes.values()) {
    if (!node.alive && node.groups.size > 0) {
      pendingRestarts.delete(node.id);
      await startNode(node);
    }
  }
  note('calm');
  await scheduler.runForAsync(1500);
  clientsStop = true;
  // Until every client has finished its last operation (answered or given up).
  await scheduler.runUntilAsync(() => scheduler.unfinishedTaskCount === 0, 200_000);
  await scheduler.runForAsync(3000);
  checker.checkLogMatching(hosts);

  // Convergence: every replica of a group holds the same state once the cluster is calm.
  for (let groupId = 1; groupId <= groupCount; groupId++) {
    const holders = [...nodes.values()].filter((node) => node.alive && node.groups.has(groupId));
    if (holders.length === 0) continue;
    // Members as the most advanced replica knows them: a node whose addition failed (or
    // timed out and never committed) holds the group but was never a member.
    const ahead = holders.reduce((best, node) => (node.host!.status(groupId).applied > best.host!.status(groupId).applied ? node : best));
    const membership = ahead.host!.status(groupId).confState;
    const members = new Set<number>([...membership.voters, ...membership.learners]);
    const replicas = holders.filter((node) => members.has(node.id as NodeId));
    const hashes = replicas.map((node) => `${node.id}:${node.host!.status(groupId).applied}:${node.machines.get(groupId)!.stateHash().slice(0, 12)}`);
    const distinct = new Set(hashes.map((entry) => entry.split(':').slice(1).join(':')));
    if (distinct.size > 1) checker.violations.push(`convergence: group ${groupId} replicas differ after the calm phase: ${hashes.join(' ')}`);
  }

  const operations = history.operations();
  const verdict = checkKeyValueHistory(operations);
  if (verdict.verdict === 'violation') checker.violations.push(`linearizability: ${verdict.violation?.explanation ?? 'violation'}`);
  for (const node of nodes.values()) node.host?.halt();

  return {
    seed: options.seed,
    violations: checker.violations,
    trace: checker.violations.length > 0 ? formatTrace(trace, { header: [`seed ${options.seed}: replay with npm run sim -- --seed ${options.seed}`], lastEventsMax: 200 }) : '',
    stats: {
      nodes: nodeCount,
      groups: groupCount,
      events: scheduler.eventsRun,
      virtualMs: scheduler.now(),
      operations: operations.length,
      acknowledged: stats.acknowledged,
      crashes: stats.crashes,
      partitions: stats.partitions,
      transfers: stats.transfers,
      membershipChanges: stats.membershipChanges,
      linearizability: verdict.verdict,
    },
  };
}
