import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelNameProblem, metricNameProblem, type MetricKind } from './metric-names.js';

const goodNames: [string, MetricKind][] = [
  ['atoll_rpc_requests_total', 'counter'],
  ['atoll_rpc_request_duration_seconds', 'histogram'],
  ['atoll_wal_written_bytes_total', 'counter'],
  ['atoll_raft_leader_changes_total', 'counter'],
  ['atoll_partitions_loaded', 'gauge'],
  ['atoll_disk_used_ratio', 'gauge'],
  ['atoll_raft_append_batch_entries', 'histogram'],
  ['atoll_process_cpu_seconds_total', 'counter'],
];

const badNames: [string, MetricKind, RegExp][] = [
  ['rpc_requests_total', 'counter', /must start with 'atoll_'/],
  ['atoll_RPC_requests_total', 'counter', /lower-case words/],
  ['atoll_rpc__requests_total', 'counter', /single underscores/],
  ['atoll_rpc_requests', 'counter', /must end in '_total'/],
  ['atoll_rpc_requests_total', 'gauge', /only counters end in '_total'/],
  ['atoll_rpc_latency_ms', 'histogram', /base unit 'seconds' instead of 'ms'/],
  ['atoll_segment_size_mib', 'gauge', /base unit 'bytes'/],
  ['atoll_disk_used_percent', 'gauge', /base unit 'ratio'/],
  ['atoll_rpc_seconds_duration', 'histogram', /unit 'seconds' must be the last word/],
  ['atoll_wal_bytes_written_total', 'counter', /unit 'bytes' must be the last word before '_total'/],
  ['atoll_total', 'counter', /needs a word/],
];

test('names that follow the rules pass', () => {
  for (const [name, kind] of goodNames) assert.equal(metricNameProblem(name, kind), undefined, `${kind} ${name}`);
});

test('each broken rule is named', () => {
  for (const [name, kind, problem] of badNames) assert.match(metricNameProblem(name, kind) ?? 'no problem', problem, `${kind} ${name}`);
});

test('labels are snake case and may not be the reserved ones', () => {
  assert.equal(labelNameProblem('partition'), undefined);
  assert.equal(labelNameProblem('peer_node'), undefined);
  assert.match(labelNameProblem('peerNode') ?? '', /lower-case/);
  assert.match(labelNameProblem('instance') ?? '', /reserved/);
  assert.match(labelNameProblem('role') ?? '', /reserved/);
  assert.match(labelNameProblem('le') ?? '', /reserved/);
});
