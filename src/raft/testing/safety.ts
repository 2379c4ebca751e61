// Raft's safety properties, checked against a whole simulated network after every step.
import type { Entry, LogIndex, NodeId } from '../types.js';
import { Role } from '../types.js';
import type { Network, SimulatedNode } from './network.js';

export class SafetyViolation extends Error {
  override readonly name = 'SafetyViolation';
}

function violation(message: string): never {
  throw new SafetyViolation(message);
}

function entriesEqual(left: Entry, right: Entry): boolean {
  if (left.term !== right.term || left.index !== right.index || left.type !== right.type) return false;
  if (left.data.byteLength !== right.data.byteLength) return false;
  for (let offset = 0; offset < left.data.byteLength; offset++) if (left.data[offset] !== right.data[offset]) return false;
  return true;
}

function describe(entry: Entry | undefined): string {
  if (entry === undefined) return 'none';
  return `{index ${entry.index}, term ${entry.term}, ${entry.data.byteLength} bytes}`;
}

interface PersistedLog {
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly commit: number;
  readonly entries: readonly Entry[];
}

function persistedLog(node: SimulatedNode): PersistedLog {
  const storage = node.storage;
  const firstIndex = storage.firstIndex();
  const lastIndex = storage.lastIndex();
  const entries = lastIndex >= firstIndex ? storage.entries(firstIndex, (lastIndex + 1) as LogIndex, Number.MAX_SAFE_INTEGER) : [];
  return { firstIndex, lastIndex, commit: storage.initialState().hardState.commit, entries };
}

export interface PendingRead {
  readonly node: NodeId;
  readonly context: string;
  /** The highest index known committed anywhere when the read was issued. */
  readonly committedAtRequest: number;
}

/**
 * Checks, over the persisted state of every node:
 * - election safety: at most one leader per term;
 * - log matching: two logs with an entry of the same index and term agree on every entry up to it;
 * - committed entries never change, and every leader's log holds all of them (leader completeness);
 * - state machine safety: every node applied a prefix of one sequence, with no payload twice;
 * - read index: a read answers at an index covering every write committed before it was issued.
 */
export class SafetyChecker {
  private readonly leadersByTerm = new Map<number, NodeId>();
  private readonly committedEntries = new Map<number, Entry>();
  private highestCommitted = 0;
  private readonly appliedSequence: string[] = [];
  private readonly appliedCursor = new Map<NodeId, number>();
  private readonly pendingReads = new Map<string, PendingRead>();
  checks = 0;

  constructor(private readonly network: Network) {}

  get committedIndex(): number {
    return this.highestCommitted;
  }

  expectRead(read: PendingRead): void {
    this.pendingReads.set(`${read.node}/${read.context}`, read);
  }

  check(): void {
    this.checks++;
    const nodes = [...this.network.nodes.values()];
    const logs = new Map<NodeId, PersistedLog>();
    for (const node of nodes) logs.set(node.id, persistedLog(node));
    this.checkElectionSafety(nodes);
    this.checkCommitted(nodes, logs);
    this.checkLogMatching(nodes, logs);
    this.checkLeaderCompleteness(nodes, logs);
    this.checkApplied(nodes);
    this.checkReads(nodes);
  }

  private checkElectionSafety(nodes: readonly SimulatedNode[]): void {
    for (const node of nodes) {
      const status = node.rawNode.status();
      if (status.role !== Role.Leader) continue;
      const known = this.leadersByTerm.get(status.term);
      if (known !== undefined && known !== node.id) violation(`election safety: ${known} and ${node.id} both lead term ${status.term}`);
      this.leadersByTerm.set(status.term, node.id);
    }
  }

  private checkCommitted(nodes: readonly SimulatedNode[], logs: ReadonlyMap<NodeId, PersistedLog>): void {
    for (const node of nodes) {
      const log = logs.get(node.id)!;
      if (log.commit > log.lastIndex) violation(`node ${node.id} commit ${log.commit} beyond its last index ${log.lastIndex}`);
      for (const entry of log.entries) {
        if (entry.index > log.commit) break;
        this.recordCommitted(node.id, entry, 'log');
      }
      // Entries applied (handed to the state machine) are committed too.
      const cursor = this.appliedCursor.get(node.id) ?? 0;
      for (let index = cursor + 1; index <= node.appliedIndex; index++) {
        const entry = node.appliedEntries.get(index);
        if (entry !== undefined) this.recordCommitted(node.id, entry, 'applied');
      }
      this.appliedCursor.set(node.id, node.appliedIndex);
    }
  }

  private recordCommitted(id: NodeId, entry: Entry, where: string): void {
    const known = this.committedEntries.get(entry.index);
    if (known === undefined) {
      this.committedEntries.set(entry.index, entry);
      this.highestCommitted = Math.max(this.highestCommitted, entry.index);
    } else if (!entriesEqual(known, entry)) {
      violation(`committed entry ${entry.index} changed: node ${id} (${where}) has ${describe(entry)}, earlier ${describe(known)}`);
    }
  }

  private checkLogMatching(nodes: readonly SimulatedNode[], logs: ReadonlyMap<NodeId, PersistedLog>): void {
    for (let leftPosition = 0; leftPosition < nodes.length; leftPosition++) {
      for (let rightPosition = leftPosition + 1; rightPosition < nodes.length; rightPosition++) {
        const left = logs.get(nodes[leftPosition].id)!;
        const right = logs.get(nodes[rightPosition].id)!;
        const low = Math.max(left.firstIndex, right.firstIndex);
        const high = Math.min(left.lastIndex, right.lastIndex);
        let highestSame = -1;
        for (let index = high; index >= low; index--) {
          if (left.entries[index - left.firstIndex].term === right.entries[index - right.firstIndex].term) {
            highestSame = index;
            break;
          }
        }
        for (let index = low; index <= highestSame; index++) {
          const leftEntry = left.entries[index - left.firstIndex];
          const rightEntry = right.entries[index - right.firstIndex];
          if (!entriesEqual(leftEntry, rightEntry)) {
            violation(
              `log matching: nodes ${nodes[leftPosition].id} and ${nodes[rightPosition].id} agree at ${highestSame} but differ at ${index}: ${describe(leftEntry)} vs ${describe(rightEntry)}`,
            );
          }
        }
      }
    }
  }

  /**
   * An entry committed in term T is in the log of every leader of a term above T. A
   * stale leader of an older term may lack it, so only the leader of the highest term
   * ever seen is checked: every commit so far happened in a term at or below it.
   */
  private checkLeaderCompleteness(nodes: readonly SimulatedNode[], logs: ReadonlyMap<NodeId, PersistedLog>): void {
    const highestLeaderTerm = Math.max(0, ...this.leadersByTerm.keys());
    for (const node of nodes) {
      const status = node.rawNode.status();
      if (status.role !== Role.Leader || status.term !== highestLeaderTerm) continue;
      const log = logs.get(node.id)!;
      for (const [index, entry] of this.committedEntries) {
        if (index < log.firstIndex) continue;
        const own = index <= log.lastIndex ? log.entries[index - log.firstIndex] : undefined;
        if (own === undefined || !entriesEqual(own, entry)) {
          violation(`leader completeness: leader ${node.id} lacks committed entry ${describe(entry)}; has ${describe(own)}`);
        }
      }
    }
  }

  private checkApplied(nodes: readonly SimulatedNode[]): void {
    for (const node of nodes) {
      const applied = node.appliedData;
      for (let position = 0; position < applied.length; position++) {
        if (position < this.appliedSequence.length) {
          if (this.appliedSequence[position] !== applied[position]) {
            violation(`state machine safety: node ${node.id} applied ${JSON.stringify(applied[position])} at position ${position}, others ${JSON.stringify(this.appliedSequence[position])}`);
          }
        } else {
          if (this.appliedSequence.includes(applied[position])) violation(`state machine safety: ${JSON.stringify(applied[position])} applied twice`);
          this.appliedSequence.push(applied[position]);
        }
      }
    }
  }

  private checkReads(nodes: readonly SimulatedNode[]): void {
    for (const node of nodes) {
      for (const readState of node.readStates) {
        const key = `${node.id}/${new TextDecoder().decode(readState.requestCtx)}`;
        const read = this.pendingReads.get(key);
        if (read === undefined) continue;
        this.pendingReads.delete(key);
        if (readState.index < read.committedAtRequest) {
          violation(`read index: read ${key} answered at ${readState.index}, but ${read.committedAtRequest} was committed before it was issued`);
        }
      }
      node.readStates = [];
    }
  }
}
