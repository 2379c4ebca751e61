// `atoll start --detach --json` and `atoll stop` as a script uses them; the end-to-end
// start-up check (issue 8): every instance's /readyz is 200 and a file written through the
// SDK (and the mount, when FUSE is available) reads back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RpcClient, echoMethod } from '../rpc/index.js';
import { Volume } from '../client/index.js';
import { fuseAvailability } from '../fuse/availability.js';
import { findMount } from '../fuse/mount-table.js';
import { isAlive } from './cluster-mount.js';

const atoll = fileURLToPath(new URL('../../../bin/atoll.js', import.meta.url));

interface StartedCluster {
  masters: string[];
  instances: Array<{ role: string; name: string; address: string; pid: number; httpPort: number; raftHeartbeatPort: number; raftReplicaPort: number; dataDir: string }>;
}

function atollSync(args: string[]) {
  return spawnSync(process.execPath, [atoll, ...args], { encoding: 'utf8', timeout: 90_000 });
}

test('atoll start brings up every instance on its own ports, comes back on the same ports, and atoll stop ends it', async () => {
  const clusterDir = await mkdtemp(join(tmpdir(), 'atoll-start-'));
  try {
    const mountDir = join(clusterDir, 'mnt');
    const first = atollSync(['start', '--data-dir', clusterDir, '--mount', mountDir, '--detach', '--json']);
    assert.equal(first.status, 0, first.stderr);
    const cluster = JSON.parse(first.stdout) as StartedCluster;
    assert.equal(cluster.instances.length, 9);
    assert.deepEqual(cluster.instances.map((instance) => instance.role).sort(), ['datanode', 'datanode', 'datanode', 'master', 'master', 'master', 'metanode', 'metanode', 'metanode']);
    assert.equal(cluster.masters.length, 3);
    const allPorts = cluster.instances.flatMap((instance) => [Number(instance.address.split(':')[1]), instance.httpPort, instance.raftHeartbeatPort, instance.raftReplicaPort]);
    assert.equal(new Set(allPorts).size, 36, 'every port of every instance is distinct');
    const secret = (await readFile(join(clusterDir, 'cluster-secret'), 'utf8')).trim();
    const client = new RpcClient({ secret, instance: 'test' });
    try {
      for (const instance of cluster.instances) {
        const ready = await fetch(`http://127.0.0.1:${instance.httpPort}/readyz`);
        assert.equal(ready.status, 200, `${instance.name} ready`);
        const status = (await (await fetch(`http://127.0.0.1:${instance.httpPort}/status`)).json()) as { role: string; instance: string };
        assert.equal(status.role, instance.role);
        assert.equal(status.instance, instance.name);
        assert.equal((await client.call(instance.address, echoMethod, { sequence: 1, data: new Uint8Array(0) })).sequence, 1);
      }
    } finally {
      await client.close();
    }
    // The admin commands find the cluster through its directory: one leader among the
    // three masters, every node registered, and the default volume placed on them.
    assert.equal((cluster as unknown as { volume: string }).volume, 'default');
    assert.equal((cluster as unknown as { adminToken: string }).adminToken, (await readFile(join(clusterDir, 'admin-token'), 'utf8')).trim(), 'the admin token itself, for scripts');
    const info = atollSync(['cluster', 'info', '--json', '--cluster-dir', clusterDir]);
    assert.equal(info.status, 0, info.stderr);
    const clusterInfo = JSON.parse(info.stdout) as { leader: string; term: number; members: Array<{ address: string; state: string }> };
    assert.ok(cluster.masters.includes(clusterInfo.leader), `leader ${clusterInfo.leader} is one of the masters`);
    assert.deepEqual(clusterInfo.members.map((member) => member.address).sort(), [...cluster.masters].sort());
    const nodes = atollSync(['node', 'list', '--json', '--cluster-dir', clusterDir]);
    assert.equal(nodes.status, 0, nodes.stderr);
    assert.deepEqual((JSON.parse(nodes.stdout) as { nodes: Array<{ role: string }> }).nodes.map((node) => node.role).sort(), ['datanode', 'datanode', 'datanode', 'metanode', 'metanode', 'metanode']);
    const volume = atollSync(['volume', 'info', 'default', '--json', '--cluster-dir', clusterDir]);
    assert.equal(volume.status, 0, volume.stderr);
    const volumeInfo = JSON.parse(volume.stdout) as { volume: { name: string }; metaPartitions: Array<{ peers: number[] }>; dataPartitions: unknown[] };
    assert.equal(volumeInfo.volume.name, 'default');
    assert.equal(volumeInfo.metaPartitions[0]!.peers.length, 3);
    assert.ok(volumeInfo.dataPartitions.length >= 1);
    // A file written through the SDK (all three masters given) reads back, also through a
    // second client, so it is in the cluster and not in the first client's buffers.
    const sdkContent = Buffer.from(Array.from({ length: 300_000 }, (_, index) => (index * 7 + (index >>> 10)) & 0xff));
    const writer = await Volume.open({ masters: cluster.masters, volume: 'default', clusterSecret: secret });
    try {
      await writer.writeFile('/through-the-sdk.bin', sdkContent);
      assert.ok(((await writer.readFile('/through-the-sdk.bin')) as Buffer).equals(sdkContent));
    } finally {
      await writer.close();
    }
    const reader = await Volume.open({ masters: cluster.masters, volume: 'default', clusterSecret: secret });
    try {
      assert.ok(((await reader.readFile('/through-the-sdk.bin')) as Buffer).equals(sdkContent), 'a second client reads what the first wrote');
    } finally {
      await reader.close();
    }
    // The default volume is mounted when FUSE is available (under CI it must be): a file
    // written through the mount reads back through the file commands.
    const fuse = fuseAvailability();
    if (process.env.CI === 'true') assert.ok(fuse.available, `FUSE is required under CI=true: ${fuse.available ? '' : fuse.reason}`);
    if (fuse.available) {
      assert.equal((cluster as unknown as { mount: string }).mount, mountDir);
      await writeFile(join(mountDir, 'hello.txt'), 'through the mount');
      const cat = atollSync(['fs', 'cat', '/hello.txt', '--cluster-dir', clusterDir]);
      assert.equal(cat.stdout, 'through the mount', cat.stderr);
    } else {
      assert.equal((cluster as unknown as { mount: string | null }).mount, null);
    }
    const stopped = atollSync(['stop', '--data-dir', clusterDir]);
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.match(stopped.stdout, /stopped: (mount .*, )?master-1, .*datanode-3/);
    assert.equal(await findMount(mountDir), undefined, 'atoll stop unmounted the volume');
    for (const instance of cluster.instances) {
      const refused = await fetch(`http://127.0.0.1:${instance.httpPort}/healthz`).then(() => false, () => true);
      assert.ok(refused, `${instance.name} is down`);
    }
    // The same cluster comes back on the same ports.
    const second = atollSync(['start', '--data-dir', clusterDir, '--no-mount', '--detach', '--json']);
    assert.equal(second.status, 0, second.stderr);
    const again = JSON.parse(second.stdout) as StartedCluster;
    assert.deepEqual(again.instances.map((instance) => instance.address), cluster.instances.map((instance) => instance.address));
    assert.equal((again as unknown as { mount: string | null }).mount, null, '--no-mount');
    assert.equal(atollSync(['stop', '--data-dir', clusterDir]).status, 0);
  } finally {
    atollSync(['stop', '--data-dir', clusterDir]);
    await rm(clusterDir, { recursive: true, force: true });
  }
});

test('atoll stop on a directory without a cluster says so (exit 2)', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'atoll-nostart-'));
  const result = atollSync(['stop', '--data-dir', empty]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /no cluster in/);
  await rm(empty, { recursive: true, force: true });
});

/** `atoll start` in the foreground, in a process group of its own as a terminal would run it. */
function startForeground(args: string[]): { child: ChildProcess; output: () => string; waitFor: (pattern: RegExp, timeoutMs: number) => Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [atoll, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = async (pattern: RegExp, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(text)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`atoll start: no ${pattern} within ${timeoutMs} ms:\n${text}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return { child, output: () => text, waitFor, exited };
}

test('a Ctrl-C at the terminal reaches the launcher only: it unmounts first, then stops every instance; during start-up it stops what was started', async () => {
  const clusterDir = await mkdtemp(join(tmpdir(), 'atoll-ctrl-c-'));
  const fuse = fuseAvailability().available;
  try {
    const mountDir = join(clusterDir, 'mnt');
    const started = startForeground(['--data-dir', clusterDir, ...(fuse ? ['--mount', mountDir] : ['--no-mount'])]);
    await started.waitFor(/Press Ctrl-C/, 90_000);
    const record = JSON.parse(await readFile(join(clusterDir, 'launcher.json'), 'utf8')) as { pids: Record<string, number>; mount?: { pid: number } };
    const pids = Object.values(record.pids);
    if (fuse) await writeFile(join(mountDir, 'written-before-ctrl-c.txt'), 'kept');
    // What a terminal does: SIGINT to every process of the foreground group.
    process.kill(-started.child.pid!, 'SIGINT');
    assert.equal(await started.exited, 0, started.output());
    assert.match(started.output(), /stopping the cluster\.\.\.\nstopped\./);
    for (const pid of pids) assert.ok(!isAlive(pid), `instance pid ${pid} stopped`);
    // Each instance was stopped by the launcher (SIGTERM, after the mount), not by the terminal's SIGINT.
    for (const name of Object.keys(record.pids)) {
      const log = await readFile(join(clusterDir, name, 'instance.log'), 'utf8');
      const received = log.split('\n').filter((line) => line.includes('"signal received"')).at(-1);
      assert.match(received ?? '', /"signal":"SIGTERM"/, `${name}: ${received}`);
    }
    if (fuse) {
      assert.equal(await findMount(mountDir), undefined);
      // The mount was stopped by the launcher, cleanly (not killed with the instances gone).
      assert.match(await readFile(join(clusterDir, 'mount.log'), 'utf8'), /unmounted /);
    }

    // Interrupted while the saved cluster starts again: nothing is left running.
    const again = startForeground(['--data-dir', clusterDir, '--no-mount']);
    // The instances are spawned once the launcher has written their pids.
    let launcherRecord: { pids: Record<string, number> } | undefined;
    for (let waited = 0; waited < 300 && launcherRecord === undefined; waited++) {
      let read: { pids: Record<string, number> } = { pids: {} };
      try {
        read = JSON.parse(await readFile(join(clusterDir, 'launcher.json'), 'utf8')) as { pids: Record<string, number> };
      } catch {
        // not written yet, or being written
      }
      if (Object.values(read.pids).length > 0 && !Object.values(read.pids).some((pid) => pids.includes(pid))) launcherRecord = read;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(launcherRecord !== undefined, `no new launcher record: ${again.output()}`);
    process.kill(-again.child.pid!, 'SIGINT');
    const code = await again.exited;
    // Most often still starting (130: 128 + SIGINT); on a fast machine perhaps already up (0).
    assert.ok(code === 130 || code === 0, `exit ${code}: ${again.output()}`);
    for (const pid of Object.values(launcherRecord.pids)) {
      for (let waited = 0; waited < 100 && isAlive(pid); waited++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(!isAlive(pid), `instance pid ${pid} stopped after an interrupted start`);
    }
  } finally {
    atollSync(['stop', '--data-dir', clusterDir]);
    await rm(clusterDir, { recursive: true, force: true });
  }
});
