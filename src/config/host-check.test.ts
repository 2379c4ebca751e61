import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHostInstances, type HostInstance } from './host-check.js';
import type { ServerConfigBase } from './roles.js';

function instance(label: string, role: HostInstance['role'], fields: Partial<ServerConfigBase> & { disks?: string[] }): HostInstance {
  const config = {
    host: '127.0.0.1',
    port: 0,
    httpPort: 0,
    raftHeartbeatPort: 0,
    raftReplicaPort: 0,
    instance: label.replace(/\.toml$/, ''),
    dataDir: `/srv/atoll/${label.replace(/\.toml$/, '')}`,
    zone: 'default',
    clusterSecret: 's',
    clusterSecretFile: undefined,
    logLevel: 'info' as const,
    ...fields,
  };
  return { label, role, config };
}

test('instances with their own ports, directories and names fit one host', () => {
  const problems = checkHostInstances([
    instance('metanode-1.toml', 'metanode', { port: 17210, httpPort: 17220, raftHeartbeatPort: 17230, raftReplicaPort: 17240 }),
    instance('metanode-2.toml', 'metanode', { port: 17211, httpPort: 17221, raftHeartbeatPort: 17231, raftReplicaPort: 17241 }),
    instance('datanode-1.toml', 'datanode', { port: 17310, disks: ['/srv/atoll/datanode-1/disk0', '/mnt/disk1'] }),
  ]);
  assert.deepEqual(problems, []);
});

test('a port used by two instances on one address is reported with both keys and both files', () => {
  const problems = checkHostInstances([
    instance('metanode-1.toml', 'metanode', { port: 17210, raftHeartbeatPort: 17230 }),
    instance('datanode-1.toml', 'datanode', { port: 17310, raftReplicaPort: 17230 }),
  ]);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.kind, 'port');
  assert.deepEqual(problems[0]!.labels, ['metanode-1.toml', 'datanode-1.toml']);
  assert.equal(problems[0]!.message, 'port 17230 is raft-heartbeat-port of metanode-1 (metanode, metanode-1.toml) and raft-replica-port of datanode-1 (datanode, datanode-1.toml): change one of them');
});

test('the same port on two different addresses is fine, on a wildcard address it is not; port 0 never clashes', () => {
  assert.deepEqual(checkHostInstances([
    instance('a.toml', 'master', { host: '10.0.0.1', port: 17010 }),
    instance('b.toml', 'master', { host: '10.0.0.2', port: 17010 }),
  ]), []);
  const wildcard = checkHostInstances([
    instance('a.toml', 'master', { host: '0.0.0.0', port: 17010 }),
    instance('b.toml', 'master', { host: '10.0.0.2', port: 17010 }),
  ]);
  assert.deepEqual(wildcard.map((problem) => problem.kind), ['port']);
});

test('a shared data directory, a data directory inside another, and a shared disk are reported', () => {
  const problems = checkHostInstances([
    instance('datanode-1.toml', 'datanode', { dataDir: '/srv/d1', disks: ['/mnt/disk0'] }),
    instance('datanode-2.toml', 'datanode', { dataDir: '/srv/d1', disks: ['/mnt/disk0/sub'] }),
    instance('metanode-1.toml', 'metanode', { dataDir: '/srv/d1/meta' }),
  ]);
  const messages = problems.map((problem) => problem.message);
  assert.ok(messages.includes('/srv/d1 is both data-dir of datanode-1 (datanode, datanode-1.toml) and data-dir of datanode-2 (datanode, datanode-2.toml): every instance needs directories of its own'), messages.join('\n'));
  assert.ok(messages.includes('/mnt/disk0/sub lies inside disks /mnt/disk0 of datanode-1 (datanode, datanode-1.toml) (it is disks of datanode-2 (datanode, datanode-2.toml)): every instance needs directories of its own'), messages.join('\n'));
  assert.ok(messages.some((message) => message.startsWith('/srv/d1/meta lies inside data-dir /srv/d1 of datanode-1')), messages.join('\n'));
  assert.ok(problems.every((problem) => problem.kind === 'directory'));
});

test('an instance name used twice is reported', () => {
  const problems = checkHostInstances([
    instance('a.toml', 'metanode', { instance: 'meta', dataDir: '/srv/a' }),
    instance('b.toml', 'metanode', { instance: 'meta', dataDir: '/srv/b' }),
  ]);
  assert.deepEqual(problems.map((problem) => [problem.kind, problem.message]), [['instance-name', 'instance name meta is used by both a.toml and b.toml: give each instance its own instance key']]);
});
