// `atoll start --backend etcd`: the launcher starts a local etcd, the masters elect their
// leader and keep their state in it, the cluster serves files, a second start brings the
// same etcd back, and `atoll stop` stops etcd too.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdClient } from '../etcd/etcd-client.js';
import { etcdSuiteOptions } from '../etcd/testing/etcd-available.js';

const atoll = fileURLToPath(new URL('../../../bin/atoll.js', import.meta.url));

function atollSync(args: string[]) {
  return spawnSync(process.execPath, [atoll, ...args], { encoding: 'utf8', timeout: 90_000 });
}

describe('atoll start --backend etcd', { timeout: 240_000, ...etcdSuiteOptions('atoll start --backend etcd') }, () => {
  test('runs the cluster on a local etcd it starts and stops', async () => {
    const clusterDir = await mkdtemp(join(tmpdir(), 'atoll-start-etcd-'));
    try {
      const first = atollSync(['start', '--backend', 'etcd', '--data-dir', clusterDir, '--no-mount', '--detach', '--json']);
      assert.equal(first.status, 0, first.stderr);
      const cluster = JSON.parse(first.stdout) as { masters: string[]; etcd: string; instances: Array<{ role: string; httpPort: number }> };
      assert.match(cluster.etcd, /^127\.0\.0\.1:\d+$/);
      const etcdPid = (JSON.parse(await readFile(join(clusterDir, 'etcd.json'), 'utf8')) as { pid: number }).pid;
      const etcd = new EtcdClient({ endpoints: [cluster.etcd] });
      try {
        // The leader named by cluster info holds the lowest election key in etcd.
        const info = atollSync(['cluster', 'info', '--json', '--cluster-dir', clusterDir]);
        assert.equal(info.status, 0, info.stderr);
        const leader = (JSON.parse(info.stdout) as { leader: string }).leader;
        const election = await etcd.range('/atollfs/atoll/election/', { prefix: true, sortByCreate: true });
        assert.equal(election.kvs.length, 3);
        assert.equal(JSON.parse(election.kvs[0]!.value.toString()).address, leader);
        assert.ok(await etcd.get('/atollfs/atoll/state/volumes/default'), 'the default volume is a record in etcd');
        // Files work on the cluster.
        const local = join(clusterDir, 'hello.txt');
        await writeFile(local, 'on etcd');
        assert.equal(atollSync(['fs', 'put', local, '/hello.txt', '--cluster-dir', clusterDir]).status, 0);
        const cat = atollSync(['fs', 'cat', '/hello.txt', '--cluster-dir', clusterDir]);
        assert.equal(cat.stdout, 'on etcd', cat.stderr);
        const stopped = atollSync(['stop', '--data-dir', clusterDir]);
        assert.equal(stopped.status, 0, stopped.stderr);
        assert.match(stopped.stdout, /datanode-3, etcd/);
        assert.throws(() => process.kill(etcdPid, 0), 'etcd stopped');
        // A second start (no --backend: the saved plan keeps it) brings the same state back.
        const second = atollSync(['start', '--data-dir', clusterDir, '--no-mount', '--detach', '--json']);
        assert.equal(second.status, 0, second.stderr);
        assert.equal((JSON.parse(second.stdout) as { etcd: string }).etcd, cluster.etcd);
        const again = atollSync(['fs', 'cat', '/hello.txt', '--cluster-dir', clusterDir]);
        assert.equal(again.stdout, 'on etcd', again.stderr);
      } finally {
        etcd.close();
      }
      assert.equal(atollSync(['stop', '--data-dir', clusterDir]).status, 0);
    } finally {
      atollSync(['stop', '--data-dir', clusterDir]);
      await rm(clusterDir, { recursive: true, force: true });
    }
  });
});
