// The Raft safety properties (Raft paper, figure 3), checked on a whole simulated cluster
// after every event:
// - election safety: at most one leader per term in a group;
// - state machine safety: no two replicas apply different entries at the same index;
// - leader completeness: a leader's log holds every entry applied anywhere before its term;
// - log matching: two logs with an entry of the same index and term agree up to it.
// A violation is recorded with a description; the runner stops the seed and prints it.
import { createHash } from 'node:crypto';
import { Role, type Entry } from '../raft/index.js';
import type { RaftHost } from '../raftstore/index.js';

interface AppliedEntry {
  readonly term: number;
  readonly digest: string;
  readonly node: number;
}

export class SafetyChecker {
  readonly violations: string[] = [];
  // group -> term -> leader node
  private readonly leaders = new Map<number, Map<number, number>>();
  // group -> index -> the entry the first replica applied there
  private readonly applied = new Map<number, Map<number, AppliedEntry>>();
  // group -> highest applied index seen anywhere
  private readonly highestApplied = new Map<number, number>();
  // (group, term, node) leaders whose log was checked for completeness already
  private readonly completenessChecked = new Set<string>();
  checks = 0;

  // Called by every replica's host for every entry it applies.
  onApplied(node: number, groupId: number, entry: Entry): void {
    let byIndex = this.applied.get(groupId);
    if (byIndex === undefined) {
      byIndex = new Map();
      this.applied.set(groupId, byIndex);
    }
    const digest = digestOf(entry);
    const first = byIndex.get(entry.index);
    if (first === undefined) {
      byIndex.set(entry.index, { term: entry.term, digest, node });
      if (entry.index > (this.highestApplied.get(groupId) ?? 0)) this.highestApplied.set(groupId, entry.index);
    } else if (first.term !== entry.term || first.digest !== digest) {
      this.violations.push(
        `state machine safety: group ${groupId} index ${entry.index}: node ${first.node} applied term ${first.term} (${first.digest}), node ${node} applied term ${entry.term} (${digest})`,
      );
    }
  }

  // The state of every live host, after an event.
  check(hosts: ReadonlyMap<number, RaftHost>): void {
    this.checks += 1;
    for (const [node, host] of hosts) {
      if (host.isStopped) continue;
      for (const groupId of host.groupIds()) {
        const status = host.status(groupId);
        if (status.role !== Role.Leader) continue;
        let byTerm = this.leaders.get(groupId);
        if (byTerm === undefined) {
          byTerm = new Map();
          this.leaders.set(groupId, byTerm);
        }
        const known = byTerm.get(status.term);
        if (known === undefined) byTerm.set(status.term, node);
        else if (known !== node) this.violations.push(`election safety: group ${groupId} term ${status.term} has two leaders: nodes ${known} and ${node}`);
        const key = `${groupId}/${status.term}/${node}`;
        if (!this.completenessChecked.has(key)) {
          this.completenessChecked.add(key);
          this.checkCompleteness(node, host, groupId, status.term);
        }
      }
    }
  }

  // Leader completeness: entries applied anywhere (so committed) at an index the leader's
  // log covers must be in its log, with the same term and payload.
  private checkCompleteness(node: number, host: RaftHost, groupId: number, term: number): void {
    const byIndex = this.applied.get(groupId);
    if (byIndex === undefined) return;
    const log = host.inspectLog(groupId);
    const highest = this.highestApplied.get(groupId) ?? 0;
    if (highest > log.lastIndex) {
      this.violations.push(`leader completeness: group ${groupId}: node ${node} leads term ${term} with a log ending at ${log.lastIndex}, but index ${highest} was applied`);
      return;
    }
    for (const entry of log.entries) {
      const committed = byIndex.get(entry.index);
      if (committed === undefined) continue;
      if (committed.term !== entry.term || committed.digest !== digestOf(entry)) {
        this.violations.push(`leader completeness: group ${groupId}: node ${node} leads term ${term} with term ${entry.term} at index ${entry.index}, where term ${committed.term} was applied`);
        return;
      }
    }
  }

  // Log matching across every pair of live replicas of a group (costlier: run it now and then).
  checkLogMatching(hosts: ReadonlyMap<number, RaftHost>): void {
    const logs = new Map<number, Map<number, Array<{ node: number; entries: Map<number, Entry> }>>>();
    for (const [node, host] of hosts) {
      if (host.isStopped) continue;
      for (const groupId of host.groupIds()) {
        const log = host.inspectLog(groupId);
        let perGroup = logs.get(groupId);
        if (perGroup === undefined) {
          perGroup = new Map();
          logs.set(groupId, perGroup);
        }
        perGroup.set(node, [{ node, entries: new Map(log.entries.map((entry) => [entry.index, entry])) }]);
      }
    }
    for (const [groupId, perGroup] of logs) {
      const replicas = [...perGroup.values()].map((list) => list[0]!);
      for (let a = 0; a < replicas.length; a++) {
        for (let b = a + 1; b < replicas.length; b++) {
          const left = replicas[a]!;
          const right = replicas[b]!;
          // The highest index where both hold the same term: everything below it that both hold must agree.
          let match = 0;
          for (const [index, entry] of left.entries) {
            const other = right.entries.get(index);
            if (other !== undefined && other.term === entry.term && index > match) match = index;
          }
          for (const [index, entry] of left.entries) {
            if (index > match) continue;
            const other = right.entries.get(index);
            if (other !== undefined && (other.term !== entry.term || digestOf(other) !== digestOf(entry))) {
              this.violations.push(`log matching: group ${groupId}: nodes ${left.node} and ${right.node} agree at index ${match} but differ at ${index}`);
              return;
            }
          }
        }
      }
    }
  }
}

function digestOf(entry: Entry): string {
  return `${entry.type}:${createHash('sha1').update(entry.data).digest('hex').slice(0, 16)}`;
}
