// Meta partitions on real metanodes (in this process, real TCP and Raft, both engines):
// the master creates the partition on three metanodes, the service answers through the
// leader, followers refuse, a crashed replica under load loses nothing and catches up,
// and a restart goes through the staged start-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtollError, StatusCode, isAtollError } from '../errors/index.js';
import { InProcessCluster, type InProcessClusterOptions } from '../launcher/testing/in-process-cluster.js';
import { waitFor } from '../master/testing/master-group.js';
import { CreateInodeRequest, GetInodeRequest, ListTrashRequest, OpenFileRequest, OpenSessionRequest, RestoreTrashRequest, SessionRequest, InodeType, LookupRequest, MetaNode, ReadDirRequest, RenameRequest, SetattrField, SetattrRequest, SetXattrRequest, StatfsRequest, UnlinkRequest, XattrRequest } from '../proto/generated/metanode.js';
import type { MetadataEngine } from '../config/index.js';
import { MetaPartition, rootIno } from './meta-partition.js';
import { DataClient } from '../dataclient/index.js';
import { DataPartition } from '../datanode/data-partition.js';
import { AppendExtentsRequest, DentryRequest, DropRemoteLinksRequest, InodeLinkRequest, RenameStep, RenameTxnRequest } from '../proto/generated/metanode.js';
import { renameAcrossPartitions } from '../metaclient/index.js';
import { extentReleasePrefix } from './partition/keys.js';

async function withCluster(engine: MetadataEngine, body: (cluster: InProcessCluster, partitionId: number) => Promise<void>, options: Omit<InProcessClusterOptions, 'engine'> = {}): Promise<void> {
  const cluster = await InProcessCluster.start({ engine, ...options });
  try {
    const view = await cluster.metaClient.refreshView();
    const partitionId = view.metaPartitions[0]!.partitionId;
    await cluster.metaLeader(partitionId);
    await waitFor('the root directory', 20_000, async () => (await cluster.metaClient.call(MetaNode.getInode, GetInodeRequest.create({ partitionId, ino: rootIno }), { mutation: false })).inode);
    await body(cluster, partitionId);
  } finally {
    await cluster.stop();
  }
}

function statusOf(error: unknown): string {
  return error instanceof AtollError ? StatusCode[error.status]! : String(error);
}

function contentsOf(partition: MetaPartition): string[] {
  const view = partition.engine.snapshotView();
  try {
    return [...view.entries()].map((entry) => `${Buffer.from(entry.key).toString('hex')}=${Buffer.from(entry.value).toString('hex')}`);
  } finally {
    view.release();
  }
}

for (const engine of ['memory', 'lmdb'] as const) {
  test(`${engine}: the metanode service answers every operation through the partition leader, with POSIX errors as status codes`, async () => {
    await withCluster(engine, async (cluster, partitionId) => {
      const meta = cluster.metaClient;
      const mutate = { mutation: true };
      const read = { mutation: false };
      const made = await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_DIRECTORY, mode: 0o755, parentIno: rootIno, name: 'dir' }), mutate);
      const dir = made.inode!;
      const file = (await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: dir.ino, name: 'a' }), mutate)).inode!;
      const root = (await meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId, ino: rootIno }), read)).inode!;
      assert.equal(root.nlink, 3);
      // The create answers the parent as it left it: the new link counted, the times moved to the create's.
      assert.equal(made.parent?.ino, rootIno);
      assert.equal(made.parent?.nlink, 3);
      assert.deepEqual([made.parent?.mtimeSec, made.parent?.mtimeNsec], [dir.ctimeSec, dir.ctimeNsec]);
      // A lookup answers the entry's inode with it when the partition holds it.
      const looked = await meta.call(MetaNode.lookup, LookupRequest.create({ partitionId, parentIno: dir.ino, name: 'a' }), read);
      assert.equal(looked.dentry!.ino, file.ino);
      assert.deepEqual(looked.inode, file);

      const refusals: Array<[string, () => Promise<unknown>, StatusCode]> = [
        ['EEXIST', () => meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: dir.ino, name: 'a' }), mutate), StatusCode.EXISTS],
        ['ENOENT lookup', () => meta.call(MetaNode.lookup, LookupRequest.create({ partitionId, parentIno: dir.ino, name: 'missing' }), read), StatusCode.NOT_FOUND],
        ['ENOTEMPTY', () => meta.call(MetaNode.unlink, UnlinkRequest.create({ partitionId, parentIno: rootIno, name: 'dir', isDir: true }), mutate), StatusCode.NOT_EMPTY],
        ['EISDIR', () => meta.call(MetaNode.unlink, UnlinkRequest.create({ partitionId, parentIno: rootIno, name: 'dir' }), mutate), StatusCode.IS_DIR],
        ['ENOTDIR', () => meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: file.ino, name: 'x' }), mutate), StatusCode.NOT_DIR],
        ['slash', () => meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: dir.ino, name: 'a/b' }), mutate), StatusCode.INVALID_ARGUMENT],
        ['NUL', () => meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: dir.ino, name: 'a\0b' }), mutate), StatusCode.INVALID_ARGUMENT],
        ['256 bytes', () => meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: dir.ino, name: 'n'.repeat(256) }), mutate), StatusCode.NAME_TOO_LONG],
        ['into own subtree', () => meta.call(MetaNode.rename, RenameRequest.create({ partitionId, sourceParentIno: rootIno, sourceName: 'dir', targetParentIno: dir.ino, targetName: 'loop' }), mutate), StatusCode.INVALID_ARGUMENT],
        ['partition not on the node', () => cluster.rpc.call(cluster.nodes[0]!.serviceAddress, MetaNode.getInode, GetInodeRequest.create({ partitionId: 999_999, ino: 1 })), StatusCode.STALE_VIEW],
        ['partition id 0', () => cluster.rpc.call(cluster.nodes[0]!.serviceAddress, MetaNode.getInode, GetInodeRequest.create({ partitionId: 0, ino: 1 })), StatusCode.INVALID_ARGUMENT],
      ];
      for (const [what, call, status] of refusals) {
        await assert.rejects(call(), (error) => {
          assert.equal(statusOf(error), StatusCode[status], what);
          return true;
        });
      }

      for (let index = 0; index < 30; index++) {
        await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: dir.ino, name: `f${String(index).padStart(2, '0')}` }), mutate);
      }
      const names: string[] = [];
      let after = '';
      for (let page = 0; page < 10; page++) {
        const answer = await meta.call(MetaNode.readDir, ReadDirRequest.create({ partitionId, parentIno: dir.ino, after, limit: 7, plus: true }), read);
        assert.equal(answer.inodes.length, answer.entries.length, 'readdirplus gives each entry its inode');
        names.push(...answer.entries.map((entry) => entry.name));
        if (!answer.more) break;
        after = answer.entries.at(-1)!.name;
      }
      assert.equal(names.length, 31);
      assert.deepEqual(names, [...names].sort());

      const renamed = await meta.call(MetaNode.rename, RenameRequest.create({ partitionId, sourceParentIno: dir.ino, sourceName: 'a', targetParentIno: rootIno, targetName: 'moved' }), mutate);
      assert.equal(renamed.moved!.ino, file.ino);
      const sized = await meta.call(MetaNode.setattr, SetattrRequest.create({ partitionId, ino: file.ino, valid: SetattrField.SETATTR_MODE | SetattrField.SETATTR_SIZE, mode: 0o600, size: 4096 }), mutate);
      assert.equal(sized.inode!.mode, 0o600);
      assert.equal(sized.inode!.size, 4096);
      await meta.call(MetaNode.setXattr, SetXattrRequest.create({ partitionId, ino: file.ino, name: 'user.tag', value: Buffer.from('blue') }), mutate);
      assert.equal(Buffer.from((await meta.call(MetaNode.getXattr, XattrRequest.create({ partitionId, ino: file.ino, name: 'user.tag' }), read)).value).toString(), 'blue');
      assert.deepEqual((await meta.call(MetaNode.listXattr, XattrRequest.create({ partitionId, ino: file.ino }), read)).names, ['user.tag']);
      const statfs = await meta.call(MetaNode.statfs, StatfsRequest.create({ partitionId }), read);
      assert.equal(statfs.inodeCount, 33);
      assert.equal(statfs.dentryCount, 32);
      // An unlink answers the parent too: the parent after the removal.
      await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: dir.ino, name: 'gone' }), mutate);
      const removed = await meta.call(MetaNode.unlink, UnlinkRequest.create({ partitionId, parentIno: dir.ino, name: 'gone' }), mutate);
      assert.equal(removed.parent?.ino, dir.ino);
      assert.deepEqual(removed.parent, (await meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId, ino: dir.ino }), read)).inode);

      // A follower never answers from its own state: it names the leader instead.
      const leader = await cluster.metaLeader(partitionId);
      const follower = cluster.nodes.find((node) => node.role === 'metanode' && node !== leader)!;
      await assert.rejects(cluster.rpc.call(follower.serviceAddress, MetaNode.getInode, GetInodeRequest.create({ partitionId, ino: rootIno })), (error) => {
        assert.ok(isAtollError(error, StatusCode.NOT_LEADER));
        assert.match((error as AtollError).leaderHint, /^node:\d+$/);
        return true;
      });
    });
  });

  test(`${engine}: creates made in one turn go together in one CreateInodes request, each answered as its own CreateInode would be`, async () => {
    await withCluster(engine, async (cluster, partitionId) => {
      const meta = cluster.metaClient;
      const leader = await cluster.metaLeader(partitionId);
      // Calls the leader served, by method, from its metrics.
      const served = async (method: string): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${leader.httpPort}/metrics`)).text();
        let total = 0;
        for (const line of text.split('\n')) {
          if (line.startsWith('atoll_rpc_calls_total{') && new RegExp(`method="[^"]*\\b${method}"`).test(line)) total += Number(line.split(' ').pop());
        }
        return total;
      };
      const [togetherBefore, aloneBefore] = [await served('CreateInodes'), await served('CreateInode')];
      const names = [...Array.from({ length: 40 }, (_, index) => `c${index}`), 'c3', 'bad/name', 'n'.repeat(256)];
      const create = (name: string) => meta.createInode(CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: rootIno, name }));
      const outcomes = await Promise.allSettled(names.map(create));
      const inos = outcomes.slice(0, 40).map((outcome) => {
        assert.equal(outcome.status, 'fulfilled');
        return (outcome as PromiseFulfilledResult<{ inode?: { ino: number } }>).value.inode!.ino;
      });
      assert.equal(new Set(inos).size, 40);
      const refusal = (position: number) => (outcomes[position] as PromiseRejectedResult).reason as AtollError;
      assert.ok(isAtollError(refusal(40), StatusCode.EXISTS), 'the second c3 finds the first');
      assert.equal(refusal(40).code, 'EEXIST');
      assert.ok(isAtollError(refusal(41), StatusCode.INVALID_ARGUMENT));
      assert.ok(isAtollError(refusal(42), StatusCode.NAME_TOO_LONG));
      for (const [position, ino] of inos.entries()) {
        const found = await meta.call(MetaNode.lookup, LookupRequest.create({ partitionId, parentIno: rootIno, name: `c${position}` }), { mutation: false });
        assert.equal(found.dentry!.ino, ino);
      }
      assert.ok((await served('CreateInodes')) > togetherBefore, 'sent together');
      assert.equal(await served('CreateInode'), aloneBefore, 'none sent alone');
      // A create made alone goes as a CreateInode.
      await create('alone');
      assert.equal(await served('CreateInode'), aloneBefore + 1);
    });
  });

  test(`${engine}: a crashed leader under load loses no acknowledged create, and the replica catches up from a snapshot after restart`, async () => {
    await withCluster(engine, async (cluster, partitionId) => {
      const meta = cluster.metaClient;
      const acknowledged: string[] = [];
      let stop = false;
      let failures = 0;
      const writer = async (worker: number): Promise<void> => {
        for (let index = 0; index < 2_000 && !stop; index++) {
          const name = `w${worker}-${index}`;
          try {
            await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: rootIno, name }), { mutation: true });
            acknowledged.push(name);
          } catch (error) {
            // An answer lost with the crash: unknown outcome, not acknowledged.
            failures += 1;
            assert.ok(failures < 50, `too many failed creates: ${(error as Error).message}`);
          }
        }
      };
      const writers = Array.from({ length: 8 }, (_, worker) => writer(worker));
      await waitFor('creates before the crash', 30_000, () => (acknowledged.length >= 200 ? true : undefined));
      const victim = await cluster.metaLeader(partitionId);
      await cluster.crashNode(victim.name);
      const atCrash = acknowledged.length;
      // Enough log entries past the snapshot threshold that the new leader cuts its log
      // behind the down replica (the leader gathers concurrent creates into shared entries).
      const successor = await cluster.metaLeader(partitionId);
      const appliedAtCrash = successor.node!.partitions.raft!.status(partitionId).applied;
      await waitFor('creates after the crash', 60_000, () => {
        const applied = successor.node!.partitions.raft!.status(partitionId).applied;
        return acknowledged.length >= atCrash + 200 && applied >= appliedAtCrash + 300 ? true : undefined;
      });
      stop = true;
      await Promise.all(writers);
      await cluster.startNode(victim.name);
      const leader = await cluster.metaLeader(partitionId);
      const leaderPartition = leader.node!.partitions.get(partitionId).partition as MetaPartition;
      for (const name of acknowledged) {
        await meta.call(MetaNode.lookup, LookupRequest.create({ partitionId, parentIno: rootIno, name }), { mutation: false });
      }
      const replicas = () => cluster.nodes.filter((node) => node.role === 'metanode').map((node) => node.node!.partitions.get(partitionId).partition as MetaPartition);
      await waitFor('the replicas to converge', 60_000, () => {
        const states = replicas().map((partition) => contentsOf(partition).join('\n'));
        return states.every((state) => state === states[0]) ? true : undefined;
      }, 200);
      assert.ok(leaderPartition.usage().dentryCount! >= acknowledged.length);
      // The log was cut behind snapshots while the replica was down: it caught up from one.
      const restarted = cluster.byName(victim.name).node!.partitions.raft!.status(partitionId);
      assert.ok(restarted.snapshotIndex > 0, 'the restarted replica installed or took a snapshot');
      assert.ok(leader.node!.partitions.raft!.inspectLog(partitionId).firstIndex > 1, 'the leader truncated its log after a snapshot');
    }, { nodeOptions: { partitionHost: { raftHostLimits: { snapshotEntriesMin: 200, entriesKeptAfterSnapshot: 20 } } } });
  });

  test(`${engine}: a restarted metanode answers PARTITION_NOT_READY while loading, holds elections back, then serves`, async () => {
    await withCluster(engine, async (cluster, partitionId) => {
      const meta = cluster.metaClient;
      await Promise.all(Array.from({ length: 16 }, async (_, worker) => {
        for (let index = 0; index < 100; index++) {
          await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: rootIno, name: `s${worker}-${index}` }), { mutation: true });
        }
      }));
      const leader = await cluster.metaLeader(partitionId);
      const restarted = cluster.nodes.find((node) => node.role === 'metanode' && node !== leader)!;
      await cluster.stopNode(restarted.name);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const node = await cluster.startNode(restarted.name, { partitionHost: { loadGate: () => gate } });
      await assert.rejects(cluster.rpc.call(restarted.serviceAddress, MetaNode.getInode, GetInodeRequest.create({ partitionId, ino: rootIno })), (error) => {
        assert.ok(isAtollError(error, StatusCode.PARTITION_NOT_READY), statusOf(error));
        assert.ok((error as AtollError).retryable);
        return true;
      });
      const loading = await fetch(`http://127.0.0.1:${restarted.httpPort}/readyz`);
      assert.equal(loading.status, 503);
      const progress = (await loading.json()) as { partitionsLoaded: number; partitionsTotal: number };
      assert.deepEqual([progress.partitionsLoaded, progress.partitionsTotal], [0, 1]);
      assert.equal(node.partitions.raft?.hasGroup(partitionId) ?? false, false, 'no Raft group (so no election) before the partition loads');
      release();
      await node.started;
      const ready = await waitFor('/readyz 200', 30_000, async () => {
        const answer = await fetch(`http://127.0.0.1:${restarted.httpPort}/readyz`);
        return answer.status === 200 ? ((await answer.json()) as { partitionsLoaded: number }) : undefined;
      });
      assert.equal(ready.partitionsLoaded, 1);
      assert.equal(node.partitions.raft!.status(partitionId).campaignEnabled, true);
      const partition = node.partitions.get(partitionId).partition as MetaPartition;
      await waitFor('the restarted replica to hold every entry', 30_000, () => ((partition.usage().dentryCount ?? 0) >= 1_600 ? true : undefined));
    });
  });

  test(`${engine}: an unlinked file stays while a session holds it open, and goes when it closes or its session expires`, async () => {
    await withCluster(engine, async (cluster, partitionId) => {
      const meta = cluster.metaClient;
      const mutate = { mutation: true };
      const create = async (name: string) => (await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: rootIno, name }), mutate)).inode!.ino;
      const exists = async (ino: number) => meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId, ino }), { mutation: false }).then(() => true, (error) => {
        if (isAtollError(error, StatusCode.NOT_FOUND)) return false;
        throw error;
      });
      const held = await create('held');
      const session = await meta.call(MetaNode.openSession, OpenSessionRequest.create({ partitionId, leaseSec: 60, clientInfo: 'test' }), mutate);
      assert.ok(session.sessionId > 0);
      assert.equal((await meta.call(MetaNode.recordOpen, OpenFileRequest.create({ partitionId, sessionId: session.sessionId, ino: held }), mutate)).opens, 1);
      await meta.call(MetaNode.unlink, UnlinkRequest.create({ partitionId, parentIno: rootIno, name: 'held' }), mutate);
      const leader = (await cluster.metaLeader(partitionId)).node!.partitions.get(partitionId).partition as MetaPartition;
      await leader.housekeep(Date.now());
      assert.equal(await exists(held), true, 'an open file outlives its last link');
      assert.equal((await meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId, ino: held }), { mutation: false })).inode!.nlink, 0);
      assert.equal((await meta.call(MetaNode.recordClose, OpenFileRequest.create({ partitionId, sessionId: session.sessionId, ino: held }), mutate)).opens, 0);
      await waitFor('the closed file to be freed', 20_000, async () => ((await exists(held)) ? undefined : true), 200);

      const expiring = await create('expiring');
      const short = await meta.call(MetaNode.openSession, OpenSessionRequest.create({ partitionId, leaseSec: 2, clientInfo: 'crashes' }), mutate);
      await meta.call(MetaNode.recordOpen, OpenFileRequest.create({ partitionId, sessionId: short.sessionId, ino: expiring }), mutate);
      await meta.call(MetaNode.unlink, UnlinkRequest.create({ partitionId, parentIno: rootIno, name: 'expiring' }), mutate);
      assert.equal(await exists(expiring), true);
      // The client never renews nor closes: the leader expires the session and frees the file.
      await waitFor('the expired session to release the file', 30_000, async () => ((await exists(expiring)) ? undefined : true), 250);
      await assert.rejects(meta.call(MetaNode.renewSession, SessionRequest.create({ partitionId, sessionId: short.sessionId }), mutate), (error) => isAtollError(error, StatusCode.NOT_FOUND) || isAtollError(error, StatusCode.STALE_HANDLE));
      const statfs = await meta.call(MetaNode.statfs, StatfsRequest.create({ partitionId }), { mutation: false });
      assert.equal(statfs.toFreeCount, 0);
    });
  });

  test(`${engine}: with trash retention, removed entries are listed, restored, and expired by the leader`, async () => {
    await withCluster(engine, async (cluster, partitionId) => {
      const meta = cluster.metaClient;
      const mutate = { mutation: true };
      const dir = (await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_DIRECTORY, mode: 0o755, parentIno: rootIno, name: 'docs' }), mutate)).inode!;
      const file = (await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: dir.ino, name: 'report.txt' }), mutate)).inode!;
      const removed = await meta.call(MetaNode.unlink, UnlinkRequest.create({ partitionId, parentIno: dir.ino, name: 'report.txt' }), mutate);
      assert.match(removed.trashName, new RegExp(`^\\d{4}-\\d{2}-\\d{2}-\\d{2}/${dir.ino}-${file.ino}-report\\.txt$`));
      const listed = await meta.call(MetaNode.listTrash, ListTrashRequest.create({ partitionId, limit: 10 }), { mutation: false });
      assert.deepEqual(listed.entries.map((entry) => entry.name), [removed.trashName]);
      assert.equal((await meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId, ino: file.ino }), { mutation: false })).inode!.nlink, 1, 'a trashed file keeps its link');
      const restored = await meta.call(MetaNode.restoreTrash, RestoreTrashRequest.create({ partitionId, name: removed.trashName }), mutate);
      assert.equal(restored.dentry!.name, 'report.txt');
      assert.equal((await meta.call(MetaNode.lookup, LookupRequest.create({ partitionId, parentIno: dir.ino, name: 'report.txt' }), { mutation: false })).dentry!.ino, file.ino);
      assert.equal((await meta.call(MetaNode.listTrash, ListTrashRequest.create({ partitionId, limit: 10 }), { mutation: false })).entries.length, 0);
      await assert.rejects(meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_DIRECTORY, mode: 0o755, parentIno: rootIno, name: '.trash' }), mutate), (error) => isAtollError(error, StatusCode.PERMISSION_DENIED));

      await meta.call(MetaNode.unlink, UnlinkRequest.create({ partitionId, parentIno: dir.ino, name: 'report.txt' }), mutate);
      const leader = (await cluster.metaLeader(partitionId)).node!.partitions.get(partitionId).partition as MetaPartition;
      const threeHoursLater = Date.now() + 3 * 3600 * 1000;
      const first = await leader.housekeep(threeHoursLater);
      assert.equal(first.trashExpired, 1);
      await leader.housekeep(threeHoursLater);
      await assert.rejects(meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId, ino: file.ino }), { mutation: false }), (error) => isAtollError(error, StatusCode.NOT_FOUND));
      assert.equal((await meta.call(MetaNode.listTrash, ListTrashRequest.create({ partitionId, limit: 10 }), { mutation: false })).entries.length, 0);
    }, { trashRetentionHours: 1 });
  });

  test(`${engine}: the extents of a removed file are freed on the datanodes: the space comes back`, async () => {
    await withCluster(engine, async (cluster, partitionId) => {
      const meta = cluster.metaClient;
      const mutate = { mutation: true };
      const data = new DataClient({ rpc: cluster.rpc, masterClient: cluster.masterClient, volume: cluster.volume });
      const file = (await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: rootIno, name: 'big' }), mutate)).inode!;
      const bytes = new Uint8Array(3 * 1024 * 1024 + 5).map((_, index) => (index * 13) & 0xff);
      const written = await data.write(bytes);
      await data.sync(written.keys);
      await meta.call(MetaNode.appendExtents, AppendExtentsRequest.create({ partitionId, ino: file.ino, extents: written.keys }), mutate);
      const extents = new Set(written.keys.map((key) => `${key.partitionId}/${key.extentId}`));
      const replicasHolding = () => {
        let count = 0;
        for (const entry of cluster.nodes) {
          if (entry.role !== 'datanode' || entry.node === null) continue;
          for (const id of entry.node.partitions.partitionIds()) {
            const partition = entry.node.partitions.get(id).partition as DataPartition;
            for (const key of extents) {
              const [pid, eid] = key.split('/').map(Number);
              if (pid === id && partition.store.hasExtent(eid!)) count += 1;
            }
          }
        }
        return count;
      };
      assert.equal(replicasHolding(), extents.size * 3, 'every extent on three replicas');
      // Truncating to zero while the file is open keeps nothing from going early: the file is
      // unlinked and open, so its extents stay until the session closes it.
      const session = await meta.call(MetaNode.openSession, OpenSessionRequest.create({ partitionId, leaseSec: 60 }), mutate);
      await meta.call(MetaNode.recordOpen, OpenFileRequest.create({ partitionId, sessionId: session.sessionId, ino: file.ino }), mutate);
      await meta.call(MetaNode.unlink, UnlinkRequest.create({ partitionId, parentIno: rootIno, name: 'big' }), mutate);
      const leader = (await cluster.metaLeader(partitionId)).node!.partitions.get(partitionId).partition as MetaPartition;
      await leader.housekeep(Date.now());
      assert.deepEqual(await data.readFile(written.keys, 0, bytes.byteLength), bytes, 'an unlinked open file still reads back');
      assert.equal(replicasHolding(), extents.size * 3);
      await meta.call(MetaNode.recordClose, OpenFileRequest.create({ partitionId, sessionId: session.sessionId, ino: file.ino }), mutate);
      await waitFor('the extents freed on every replica', 30_000, () => (replicasHolding() === 0 ? true : undefined), 200);
      await waitFor('the release records acknowledged', 30_000, () => (leader.engine.scan({ prefix: extentReleasePrefix, limit: 1 }).length === 0 ? true : undefined), 200);
    });
  });

  test(`${engine}: a create across two partitions links inode and dentry, and the sweep frees an orphan but keeps a linked inode`, async () => {
    const cluster = await InProcessCluster.start({ engine, settings: { initialMetaPartitions: 2, metaPartitionInodeRange: 1024 } });
    try {
      const meta = cluster.metaClient;
      const mutate = { mutation: true };
      const view = await meta.refreshView();
      const [first, second] = [...view.metaPartitions].sort((a, b) => a.inodeStart - b.inodeStart);
      assert.ok(first !== undefined && second !== undefined && second.inodeStart === 1025);
      for (const partition of [first, second]) await cluster.metaLeader(partition.partitionId);
      await waitFor('the root directory', 20_000, async () => (await meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId: first.partitionId, ino: rootIno }), { mutation: false })).inode);
      // A complete two-step create: inode in the second partition, dentry in the root's.
      const inode = (await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId: second.partitionId, type: InodeType.INODE_FILE, mode: 0o644, remoteParentIno: rootIno, name: 'far' }), mutate)).inode!;
      assert.ok(inode.ino >= 1025);
      await meta.call(MetaNode.createDentry, DentryRequest.create({ partitionId: first.partitionId, parentIno: rootIno, name: 'far', ino: inode.ino, type: InodeType.INODE_FILE }), mutate);
      assert.equal((await meta.call(MetaNode.confirmLinked, InodeLinkRequest.create({ partitionId: second.partitionId, ino: inode.ino }), mutate)).confirmed, true);
      assert.equal((await meta.call(MetaNode.lookup, LookupRequest.create({ partitionId: first.partitionId, parentIno: rootIno, name: 'far' }), { mutation: false })).dentry!.ino, inode.ino);
      // A client that died after the inode: nothing names it.
      const orphan = (await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId: second.partitionId, type: InodeType.INODE_FILE, mode: 0o644, remoteParentIno: rootIno, name: 'lost' }), mutate)).inode!;
      // A client that died after the dentry, before confirming.
      const unconfirmed = (await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId: second.partitionId, type: InodeType.INODE_FILE, mode: 0o644, remoteParentIno: rootIno, name: 'kept' }), mutate)).inode!;
      await meta.call(MetaNode.createDentry, DentryRequest.create({ partitionId: first.partitionId, parentIno: rootIno, name: 'kept', ino: unconfirmed.ino, type: InodeType.INODE_FILE }), mutate);
      const secondLeader = (await cluster.metaLeader(second.partitionId)).node!.partitions.get(second.partitionId).partition as MetaPartition;
      const early = await secondLeader.housekeep(Date.now());
      assert.deepEqual([early.orphansFreed, early.orphansConfirmed], [0, 0], 'nothing is judged before the grace time');
      const late = await secondLeader.housekeep(Date.now() + 3_600_000);
      assert.deepEqual([late.orphansFreed, late.orphansConfirmed], [1, 1]);
      await secondLeader.housekeep(Date.now() + 3_600_000);
      await assert.rejects(meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId: second.partitionId, ino: orphan.ino }), { mutation: false }), (error) => isAtollError(error, StatusCode.NOT_FOUND));
      assert.equal((await meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId: second.partitionId, ino: unconfirmed.ino }), { mutation: false })).inode!.nlink, 1);
      // Unlink across partitions: the dentry goes here; this partition owes the link and its
      // leader hands it to the inode's partition at once, with no client step.
      const nlinkOf = async (ino: number): Promise<number> => {
        try {
          return (await meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId: second.partitionId, ino }), { mutation: false })).inode!.nlink;
        } catch (error) {
          if (isAtollError(error, StatusCode.NOT_FOUND)) return 0; // freed
          throw error;
        }
      };
      const removed = await meta.call(MetaNode.unlink, UnlinkRequest.create({ partitionId: first.partitionId, parentIno: rootIno, name: 'far' }), mutate);
      assert.equal(removed.dentry!.ino, inode.ino);
      await waitFor('the far inode to lose its link in its own partition', 20_000, async () => ((await nlinkOf(inode.ino)) === 0 ? true : undefined));
      // Exactly once: `kept` gets a second entry, one of the two goes, and the inode keeps one
      // link through housekeeping rounds and a batch sent again.
      assert.equal((await meta.call(MetaNode.addLink, InodeLinkRequest.create({ partitionId: second.partitionId, ino: unconfirmed.ino }), mutate)).inode!.nlink, 2);
      await meta.call(MetaNode.createDentry, DentryRequest.create({ partitionId: first.partitionId, parentIno: rootIno, name: 'kept-too', ino: unconfirmed.ino, type: InodeType.INODE_FILE }), mutate);
      await meta.call(MetaNode.unlink, UnlinkRequest.create({ partitionId: first.partitionId, parentIno: rootIno, name: 'kept' }), mutate);
      await waitFor('the kept inode down to one link', 20_000, async () => ((await nlinkOf(unconfirmed.ino)) === 1 ? true : undefined));
      const firstLeader = (await cluster.metaLeader(first.partitionId)).node!.partitions.get(first.partitionId).partition as MetaPartition;
      // The run the unlink started may still be forgetting its records: nothing is owed once it is done.
      await waitFor('nothing owed any more', 20_000, async () => ((await firstLeader.sendLinkDrops(Date.now())) === 0 ? true : undefined));
      const resent = await meta.call(MetaNode.dropRemoteLinks, DropRemoteLinksRequest.create({ partitionId: second.partitionId, sourcePartitionId: first.partitionId, drops: [{ seq: 1, ino: inode.ino }, { seq: 2, ino: unconfirmed.ino }] }), mutate);
      assert.equal(resent.appliedThrough, 2);
      assert.equal(await nlinkOf(unconfirmed.ino), 1, 'a batch sent again drops nothing twice');
    } finally {
      await cluster.stop();
    }
  });

  test(`${engine}: a rename across partitions moves the entry, and one a client abandons at any step is finished or rolled back by the leaders`, async () => {
    const cluster = await InProcessCluster.start({ engine, settings: { initialMetaPartitions: 2, metaPartitionInodeRange: 1024 } });
    try {
      const meta = cluster.metaClient;
      const mutate = { mutation: true };
      const read = { mutation: false };
      const [first, second] = [...(await meta.refreshView()).metaPartitions].sort((a, b) => a.inodeStart - b.inodeStart);
      await waitFor('the root directory', 20_000, async () => (await meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId: first!.partitionId, ino: rootIno }), read)).inode);
      const p1 = first!.partitionId;
      const p2 = second!.partitionId;
      // A directory whose inode (and so whose entries) live in the second partition.
      const far = (await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId: p2, type: InodeType.INODE_DIRECTORY, mode: 0o755, remoteParentIno: rootIno, name: 'far' }), mutate)).inode!;
      await meta.call(MetaNode.createDentry, DentryRequest.create({ partitionId: p1, parentIno: rootIno, name: 'far', ino: far.ino, type: InodeType.INODE_DIRECTORY }), mutate);
      await meta.call(MetaNode.confirmLinked, InodeLinkRequest.create({ partitionId: p2, ino: far.ino }), mutate);
      const where = async (name: string, target: string): Promise<[number | undefined, number | undefined]> => {
        const at = async (partitionId: number, parentIno: number, entry: string) =>
          meta.call(MetaNode.lookup, LookupRequest.create({ partitionId, parentIno, name: entry }), read).then((answer) => answer.dentry!.ino, (error) => {
            if (isAtollError(error, StatusCode.NOT_FOUND)) return undefined;
            throw error;
          });
        return [await at(p1, rootIno, name), await at(p2, far.ino, target)];
      };
      const createFile = async (name: string) => (await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId: p1, type: InodeType.INODE_FILE, mode: 0o644, parentIno: rootIno, name }), mutate)).inode!.ino;

      const whole = await createFile('whole');
      const moved = await renameAcrossPartitions(meta, { sourcePartitionId: p1, sourceParentIno: rootIno, sourceName: 'whole', targetPartitionId: p2, targetParentIno: far.ino, targetName: 'moved' });
      assert.equal(moved.ino, whole);
      assert.deepEqual(await where('whole', 'moved'), [undefined, whole]);
      await assert.rejects(renameAcrossPartitions(meta, { sourcePartitionId: p1, sourceParentIno: rootIno, sourceName: 'far', targetPartitionId: p2, targetParentIno: far.ino, targetName: 'loop' }), (error) => isAtollError(error, StatusCode.INVALID_ARGUMENT));

      const leaders = async () => [p1, p2].map((partitionId) => cluster.nodes.find((node) => node.node !== null && node.role === 'metanode' && (() => {
        try {
          return node.node.partitions.get(partitionId).context.isLeader();
        } catch {
          return false;
        }
      })())!.node!.partitions.get(partitionId).partition as MetaPartition);
      await cluster.metaLeader(p1);
      await cluster.metaLeader(p2);
      for (let stepsDone = 1; stepsDone <= 4; stepsDone++) {
        const name = `crash${stepsDone}`;
        const ino = await createFile(name);
        const base = { sourcePartitionId: p1, sourceParentIno: rootIno, sourceName: name, targetPartitionId: p2, targetParentIno: far.ino, targetName: name };
        // The client stops after `stepsDone` steps.
        const prepared = await meta.call(MetaNode.renameTxn, RenameTxnRequest.create({ ...base, partitionId: p1, step: RenameStep.RENAME_PREPARE_SOURCE }), mutate);
        const id = { txSeq: prepared.txSeq };
        if (stepsDone >= 2) await meta.call(MetaNode.renameTxn, RenameTxnRequest.create({ ...base, ...id, partitionId: p2, step: RenameStep.RENAME_PREPARE_TARGET, ino, type: InodeType.INODE_FILE }), mutate);
        if (stepsDone >= 3) await meta.call(MetaNode.renameTxn, RenameTxnRequest.create({ ...base, ...id, partitionId: p1, step: RenameStep.RENAME_COMMIT }), mutate);
        if (stepsDone >= 4) await meta.call(MetaNode.renameTxn, RenameTxnRequest.create({ ...base, ...id, partitionId: p2, step: RenameStep.RENAME_APPLY_TARGET }), mutate);
        const later = Date.now() + 3_600_000;
        for (let round = 0; round < 3; round++) for (const partition of await leaders()) await partition.housekeep(later + round);
        const [atSource, atTarget] = await where(name, name);
        if (stepsDone >= 3) assert.deepEqual([atSource, atTarget], [undefined, ino], `abandoned after ${stepsDone} steps: finished`);
        else assert.deepEqual([atSource, atTarget], [ino, undefined], `abandoned after ${stepsDone} steps: rolled back`);
        for (const partition of await leaders()) assert.equal(partition.engine.scan({ prefix: Uint8Array.of(0x52), limit: 1 }).length, 0, 'no transaction left');
      }
    } finally {
      await cluster.stop();
    }
  });
}

test('a partition leader stopped cleanly under load fails no create (its service drains before its Raft groups stop), and the replicas report equal state digests', async () => {
  await withCluster('memory', async (cluster, partitionId) => {
    const meta = cluster.metaClient;
    const failures: string[] = [];
    let acknowledged = 0;
    let stop = false;
    const writer = async (worker: number): Promise<void> => {
      for (let index = 0; index < 2_000 && !stop; index++) {
        try {
          await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: rootIno, name: `s${worker}-${index}` }), { mutation: true });
          acknowledged += 1;
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, worker) => writer(worker));
    await waitFor('creates before the stop', 30_000, () => (acknowledged >= 200 ? true : undefined));
    const victim = await cluster.metaLeader(partitionId);
    await cluster.stopNode(victim.name);
    const atStop = acknowledged;
    await waitFor('creates after the stop', 60_000, () => (acknowledged >= atStop + 200 || failures.length > 0 ? true : undefined));
    stop = true;
    await Promise.all(writers);
    assert.deepEqual(failures, [], 'no create failed while the leader stopped');
    await cluster.startNode(victim.name);
    const replicas = () => cluster.nodes.filter((node) => node.role === 'metanode' && node.node !== null).map((node) => node.node!.partitions);
    await waitFor('equal digests and applied indexes on every replica', 60_000, async () => {
      const states = await Promise.all(replicas().map(async (host) => (await host.partitionStates()).find((state) => state.partitionId === partitionId)));
      const first = states[0];
      return states.length === 3 && first?.hash !== undefined && states.every((state) => state !== undefined && state.hash === first.hash && state.appliedIndex === first.appliedIndex) ? true : undefined;
    }, 200);
  });
});
