// Test harness: a deterministic in-memory network of RawNodes. It drives every node's
// Ready loop exactly as a host must (persist, send, apply, advance) and can drop,
// duplicate, reorder, cut and isolate. Pure like the core, so a seed replays a run.
import type { Random } from '../../random/index.js';
import { assert } from '../assert.js';
import type { ConfChange } from '../conf-change.js';
import { decodeConfChange } from '../conf-change.js';
import type { RaftLimits } from '../limits.js';
import { MemoryStorage } from '../memory-storage.js';
import type { Message } from '../messages.js';
import { MessageType } from '../messages.js';
import type { ReadOnlyOption } from '../read-only.js';
import type { Ready } from '../raw-node.js';
import { RawNode } from '../raw-node.js';
import type { ConfState, Entry, LogIndex, NodeId, ReadState } from '../types.js';
import { EntryType, Role, emptyConfState } from '../types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function textBytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export function bytesText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export interface SimulatedNodeOptions {
  readonly limits?: Partial<RaftLimits>;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly readOnlyOption?: ReadOnlyOption;
  readonly campaignEnabled?: boolean;
  readonly disableProposalForwarding?: boolean;
  readonly skipCommitBroadcast?: boolean;
  readonly leaseClockLagTicks?: () => number;
  /** Founding members: bootstrap the group with these voters. Omit for a node that joins later. */
  readonly bootstrap?: readonly NodeId[];
}

/** A replica plus its "disk" (MemoryStorage) and a trivial state machine: the list of applied payloads. */
export class SimulatedNode {
  rawNode: RawNode;
  /** Payloads of applied non-empty Normal entries, in order. */
  appliedData: string[] = [];
  appliedIndex = 0 as LogIndex;
  confState: ConfState = emptyConfState;
  readStates: ReadState[] = [];
  /** Every entry handed over for applying, by index (for safety checks). */
  readonly appliedEntries = new Map<number, Entry>();

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
    private readonly random: Random,
    readonly options: SimulatedNodeOptions,
  ) {
    this.rawNode = this.createRawNode(0 as LogIndex);
    if (options.bootstrap !== undefined) this.rawNode.bootstrap(options.bootstrap);
  }

  private createRawNode(applied: LogIndex): RawNode {
    return new RawNode({
      id: this.id,
      storage: this.storage,
      random: this.random,
      applied,
      limits: this.options.limits,
      preVote: this.options.preVote,
      checkQuorum: this.options.checkQuorum,
      readOnlyOption: this.options.readOnlyOption,
      campaignEnabled: this.options.campaignEnabled,
      disableProposalForwarding: this.options.disableProposalForwarding,
      skipCommitBroadcast: this.options.skipCommitBroadcast,
      leaseClockLagTicks: this.options.leaseClockLagTicks,
    });
  }

  get role(): Role {
    return this.rawNode.status().role;
  }

  /** Handles one Ready the way the Ready contract says; returns its messages. */
  handleReady(ready: Ready): readonly Message[] {
    // 1. Persist.
    if (ready.snapshot !== undefined) this.storage.applySnapshot(ready.snapshot);
    this.storage.append(ready.entries);
    if (ready.hardState !== undefined) this.storage.setHardState(ready.hardState);
    // 3. Apply (messages are returned to the network, which sends them "now").
    if (ready.snapshot !== undefined) {
      this.appliedData = JSON.parse(bytesText(ready.snapshot.data)) as string[];
      this.appliedIndex = ready.snapshot.metadata.index;
      this.confState = ready.snapshot.metadata.confState;
    }
    for (const entry of ready.committedEntries) {
      assert(entry.index === this.appliedIndex + 1, () => `node ${this.id} applies ${entry.index} after ${this.appliedIndex}`);
      this.appliedEntries.set(entry.index, entry);
      if (entry.type === EntryType.ConfChange) {
        this.confState = this.rawNode.applyConfChange(decodeConfChange(entry.data));
      } else if (entry.data.byteLength > 0) {
        this.appliedData.push(bytesText(entry.data));
      }
      this.appliedIndex = entry.index;
    }
    this.readStates.push(...ready.readStates);
    this.rawNode.advance(ready);
    return ready.messages;
  }

  /** Snapshots the state machine at the applied index and discards the log up to it. */
  compact(): boolean {
    if (this.appliedIndex <= this.storage.snapshot().metadata.index) return false;
    this.storage.createSnapshot(this.appliedIndex, this.confState, textBytes(JSON.stringify(this.appliedData)));
    this.storage.compact(this.appliedIndex);
    return true;
  }

  /** Crash and restart from storage: volatile state is lost, the state machine restarts from the snapshot. */
  restart(): void {
    const snapshot = this.storage.snapshot();
    this.appliedData = snapshot.metadata.index === 0 ? [] : (JSON.parse(bytesText(snapshot.data)) as string[]);
    this.appliedIndex = snapshot.metadata.index;
    this.confState = snapshot.metadata.confState;
    this.readStates = [];
    this.rawNode = this.createRawNode(snapshot.metadata.index);
  }
}

/** Delivers messages between SimulatedNodes, with faults. */
export class Network {
  readonly nodes = new Map<NodeId, SimulatedNode>();
  private queue: Message[] = [];
  private readonly isolated = new Set<NodeId>();
  private readonly cuts = new Set<string>();
  /** Probability of losing each message. */
  dropRate = 0;
  /** Probability of delivering a (non-proposal) message twice. */
  duplicateRate = 0;
  /** Deliver queued messages in random order instead of FIFO. */
  reorder = false;
  /** Return true to drop a message (in addition to the other faults). */
  dropFilter: ((message: Message) => boolean) | undefined = undefined;
  /** Sees every message a node sends, before any fault is applied. */
  onSend: ((message: Message) => void) | undefined = undefined;
  /** Called after every Ready is handled and after every delivered message. */
  onStep: (() => void) | undefined = undefined;

  constructor(readonly random: Random) {}

  addNode(id: NodeId, options: SimulatedNodeOptions = {}): SimulatedNode {
    assert(!this.nodes.has(id), () => `network: node ${id} exists`);
    const node = new SimulatedNode(id, new MemoryStorage(), this.random, options);
    this.nodes.set(id, node);
    return node;
  }

  /** A group of founding members 1..count, all bootstrapped with the same voters. */
  static withNodes(random: Random, count: number, options: Omit<SimulatedNodeOptions, 'bootstrap'> = {}): Network {
    const network = new Network(random);
    const ids = Array.from({ length: count }, (_, position) => (position + 1) as NodeId);
    for (const id of ids) network.addNode(id, { ...options, bootstrap: ids });
    network.processReadies();
    return network;
  }

  node(id: NodeId | number): SimulatedNode {
    const node = this.nodes.get(id as NodeId);
    assert(node !== undefined, () => `network: no node ${id}`);
    return node;
  }

  removeNode(id: NodeId): void {
    this.nodes.delete(id);
  }

  isolate(id: NodeId | number): void {
    this.isolated.add(id as NodeId);
  }

  cut(left: NodeId | number, right: NodeId | number): void {
    this.cuts.add(`${left}-${right}`);
    this.cuts.add(`${right}-${left}`);
  }

  /** Removes every isolation and cut (not dropRate or dropFilter). */
  heal(): void {
    this.isolated.clear();
    this.cuts.clear();
  }

  get pendingMessages(): readonly Message[] {
    return this.queue;
  }

  /** Empties the queue without delivering anything. */
  discardPending(): void {
    this.queue = [];
  }

  private isBlocked(message: Message): boolean {
    return (
      this.isolated.has(message.from) ||
      this.isolated.has(message.to) ||
      this.cuts.has(`${message.from}-${message.to}`) ||
      (this.dropFilter?.(message) ?? false)
    );
  }

  /** Handles every node's Ready until no node has one (bounded). */
  processReadies(): void {
    for (let round = 0; ; round++) {
      assert(round < 1000, 'network: Ready loop does not settle');
      let handled = false;
      for (const node of this.sortedNodes()) {
        if (!node.rawNode.hasReady()) continue;
        handled = true;
        for (const message of node.handleReady(node.rawNode.ready())) {
          this.onSend?.(message);
          this.queue.push(message);
        }
        this.onStep?.();
      }
      if (!handled) return;
    }
  }

  private sortedNodes(): SimulatedNode[] {
    return [...this.nodes.values()].sort((left, right) => left.id - right.id);
  }

  /** Delivers one queued message (subject to faults); returns false when the queue was empty. */
  deliverOne(): boolean {
    if (this.queue.length === 0) return false;
    const position = this.reorder ? this.random.nextInt(this.queue.length) : 0;
    const [message] = this.queue.splice(position, 1);
    const target = this.nodes.get(message.to);
    const lost = target === undefined || this.isBlocked(message) || (this.dropRate > 0 && this.random.nextFloat() < this.dropRate);
    if (message.type === MessageType.Snapshot) {
      // The transport tells the sender how the snapshot went, as a real host must.
      this.nodes.get(message.from)?.rawNode.reportSnapshot(message.to, !lost);
    }
    if (lost) return true;
    target.rawNode.step(message);
    if (this.duplicateRate > 0 && message.type !== MessageType.Propose && this.random.nextFloat() < this.duplicateRate) {
      this.queue.push(message);
    }
    this.processReadies();
    this.onStep?.();
    return true;
  }

  /** Delivers messages and handles Readies until nothing is left to do (bounded). */
  stabilize(messagesMax = 100_000): void {
    this.processReadies();
    for (let delivered = 0; this.deliverOne(); delivered++) {
      assert(delivered < messagesMax, 'network: messages do not settle');
    }
  }

  tick(id: NodeId | number, times = 1): void {
    for (let count = 0; count < times; count++) {
      this.node(id).rawNode.tick();
      this.processReadies();
    }
  }

  /** Ticks every node once, then delivers everything. Repeats times times. */
  tickAll(times = 1): void {
    for (let count = 0; count < times; count++) {
      for (const node of this.sortedNodes()) node.rawNode.tick();
      this.stabilize();
    }
  }

  campaign(id: NodeId | number): void {
    this.node(id).rawNode.campaign();
    this.stabilize();
  }

  propose(id: NodeId | number, text: string): ReturnType<RawNode['propose']> {
    const error = this.node(id).rawNode.propose(textBytes(text));
    this.stabilize();
    return error;
  }

  proposeConfChange(id: NodeId | number, change: ConfChange): ReturnType<RawNode['proposeConfChange']> {
    const error = this.node(id).rawNode.proposeConfChange(change);
    this.stabilize();
    return error;
  }

  /** The leader with the highest term, if any node believes it leads. */
  leader(): SimulatedNode | undefined {
    let best: SimulatedNode | undefined;
    for (const node of this.sortedNodes()) {
      const status = node.rawNode.status();
      if (status.role !== Role.Leader) continue;
      if (best === undefined || status.term > best.rawNode.status().term) best = node;
    }
    return best;
  }

  /** Ticks everyone until some node leads (bounded). */
  electLeader(ticksMax = 200): SimulatedNode {
    for (let tick = 0; tick < ticksMax; tick++) {
      const leader = this.leader();
      if (leader !== undefined && this.stableLeader(leader)) return leader;
      this.tickAll();
    }
    throw new Error(`network: no leader after ${ticksMax} ticks`);
  }

  private stableLeader(leader: SimulatedNode): boolean {
    const term = leader.rawNode.status().term;
    for (const node of this.nodes.values()) {
      const status = node.rawNode.status();
      if (status.term > term) return false;
    }
    return true;
  }
}
