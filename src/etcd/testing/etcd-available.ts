// TEST ONLY: a real etcd for tests, on free loopback ports, and whether this machine has
// one. Under CI=true a missing etcd is a test failure with the reason; elsewhere the
// suite is skipped and the reason printed loudly (the pattern of fuse-available.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../../launcher/index.js';
import { EtcdProcess, etcdBinary, etcdVersion } from '../etcd-process.js';

/** `{ skip: false }` when the etcd executable runs; see the file comment otherwise. */
export function etcdSuiteOptions(suite: string): { skip: string | false } {
  if (etcdVersion() !== null) return { skip: false };
  const message = `etcd is not available (no working \`${etcdBinary()}\`; Debian: apt-get install etcd-server), ${suite} cannot run`;
  if (process.env.CI === 'true') {
    test(`${suite}: etcd is available (required under CI=true)`, () => assert.fail(message));
  } else {
    process.stderr.write(`\n!!! SKIPPED: ${message}\n\n`);
  }
  return { skip: message };
}

export interface TestEtcd {
  readonly etcd: EtcdProcess;
  readonly root: string;
  /** Stops etcd and removes its data. */
  dispose(): Promise<void>;
}

/** A fresh single-member etcd on free loopback ports with its data in a temporary directory. */
export async function startTestEtcd(): Promise<TestEtcd> {
  const root = await mkdtemp(join(tmpdir(), 'atoll-etcd-'));
  const [clientPort, peerPort] = await freePorts('127.0.0.1', 2);
  const etcd = await EtcdProcess.start({ dataDir: join(root, 'etcd'), host: '127.0.0.1', clientPort: clientPort!, peerPort: peerPort!, stdio: process.env.ATOLL_TEST_ETCD_LOG === '1' ? 'inherit' : 'ignore' });
  return {
    etcd,
    root,
    dispose: async () => {
      await etcd.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
