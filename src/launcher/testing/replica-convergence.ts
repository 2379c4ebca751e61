// TEST ONLY: reads every metanode's and datanode's GET /partitions and waits until the
// replicas of every partition agree: each voter of the group reports the partition,
// with the same Raft applied index and the same state digest (and, for data partitions,
// knows itself caught up). Fails at the deadline naming the partitions that still differ.
import type { PartitionState } from '../../nodeagent/index.js';
import { DataNode } from '../../proto/generated/datanode.js';
import type { TestCluster } from './test-cluster.js';

export interface ReplicaReport extends PartitionState {
  readonly instance: string;
  readonly nodeId: number;
}

export interface ConvergedPartition {
  readonly partitionId: number;
  readonly kind: 'meta' | 'data';
  readonly replicas: number;
  readonly appliedIndex: number;
  readonly hash: string;
}

/** Every replica every running metanode and datanode reports (instances that do not answer are left out). */
export async function replicaReports(cluster: TestCluster): Promise<ReplicaReport[]> {
  const names = [...cluster.names('metanode'), ...cluster.names('datanode')].filter((name) => cluster.isRunning(name));
  const answers = await Promise.all(names.map(async (name) => ({ name, answer: await cluster.probe(name, '/partitions', 30_000) })));
  const reports: ReplicaReport[] = [];
  for (const { name, answer } of answers) {
    if (answer.status !== 200 || answer.body === null) continue;
    const body = answer.body as { nodeId: number; partitions: PartitionState[] };
    for (const partition of body.partitions) reports.push({ ...partition, instance: name, nodeId: body.nodeId });
  }
  return reports;
}

/** The partitions whose replicas disagree (a line each), and the ones that agree. */
export function compareReplicas(reports: readonly ReplicaReport[], replicasMin: number): { differing: string[]; converged: ConvergedPartition[] } {
  const byPartition = new Map<number, ReplicaReport[]>();
  for (const report of reports) {
    const list = byPartition.get(report.partitionId) ?? [];
    list.push(report);
    byPartition.set(report.partitionId, list);
  }
  const differing: string[] = [];
  const converged: ConvergedPartition[] = [];
  for (const [partitionId, replicas] of [...byPartition].sort((left, right) => left[0] - right[0])) {
    const describe = (): string => replicas.map((replica) => `${replica.instance}(node ${replica.nodeId}${replica.isLeader ? ', leader' : ''}): applied ${replica.appliedIndex}, ${replica.hash?.slice(0, 12)}${replica.caughtUp === false ? ', not caught up' : ''}`).join('; ');
    const members = replicas.find((replica) => replica.isLeader)?.members ?? replicas[0]!.members;
    const reporting = replicas.filter((replica) => members.includes(replica.nodeId));
    if (members.length < replicasMin || reporting.length < members.length) {
      differing.push(`partition ${partitionId}: members ${members.join(',')}, reported by ${replicas.map((replica) => replica.nodeId).join(',')}: ${describe()}`);
      continue;
    }
    const first = reporting[0]!;
    const agree = reporting.every((replica) => replica.appliedIndex === first.appliedIndex && replica.hash === first.hash && replica.hash !== undefined && replica.caughtUp !== false);
    if (!agree) {
      differing.push(`partition ${partitionId} (${first.kind}): ${describe()}`);
      continue;
    }
    converged.push({ partitionId, kind: first.kind, replicas: reporting.length, appliedIndex: first.appliedIndex, hash: first.hash! });
  }
  return { differing, converged };
}

/** Polls until every partition's replicas agree; resolves with them. */
export async function waitForConvergence(cluster: TestCluster, options: { timeoutMs: number; replicasMin?: number; pollMs?: number }): Promise<ConvergedPartition[]> {
  const deadline = Date.now() + options.timeoutMs;
  let last: string[] = ['no report yet'];
  for (;;) {
    const { differing, converged } = compareReplicas(await replicaReports(cluster), options.replicasMin ?? 3);
    if (differing.length === 0 && converged.length > 0) return converged;
    last = differing.length === 0 ? ['no partition reported'] : differing;
    if (Date.now() > deadline) throw new Error(`replicas did not converge within ${options.timeoutMs} ms:\n${last.join('\n')}${await extentDifferences(cluster, last)}`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 500));
  }
}

// For a failure message: the extents that differ between the replicas of each data
// partition named in `differing` (from the datanodes' ExtentInfo).
async function extentDifferences(cluster: TestCluster, differing: readonly string[]): Promise<string> {
  const lines: string[] = [];
  const reports = await replicaReports(cluster);
  for (const line of differing.slice(0, 4)) {
    const match = /^partition (\d+) \(data\)/.exec(line);
    if (match === null) continue;
    const partitionId = Number(match[1]);
    const replicas = reports.filter((report) => report.partitionId === partitionId);
    const infos = await Promise.all(replicas.map((replica) => cluster.rpc.call(cluster.serviceAddress(replica.instance), DataNode.extentInfo, { partitionId }).catch(() => null)));
    const shapes = infos.map((info) => new Map((info?.extents ?? []).map((extent) => [extent.extentId, `${extent.size}${extent.tiny ? ' tiny' : ''} crc ${Buffer.from(extent.blockCrcs).toString('hex').slice(-16)}`])));
    const ids = new Set(shapes.flatMap((shape) => [...shape.keys()]));
    for (const extentId of [...ids].sort((left, right) => left - right)) {
      const seen = shapes.map((shape) => shape.get(extentId) ?? 'absent');
      if (seen.some((value) => value !== seen[0])) lines.push(`  partition ${partitionId} extent ${extentId}: ${replicas.map((replica, index) => `${replica.instance} ${seen[index]}`).join(' | ')}; deleted on ${replicas.filter((_, index) => infos[index]?.deletedExtentIds.includes(extentId)).map((replica) => replica.instance).join(',') || 'none'}`);
    }
  }
  return lines.length === 0 ? '' : `\nextents that differ:\n${lines.slice(0, 40).join('\n')}`;
}
