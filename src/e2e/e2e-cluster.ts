// TEST ONLY: the cluster every end-to-end file starts: three masters and three metanodes
// as `atoll start` runs them, the datanodes the file needs (no disk reserve, so a small
// test disk still takes data), and one volume of 20 GiB with three replicas.
import { Volume } from '../client/index.js';
import { TestCluster } from '../launcher/testing/test-cluster.js';

export async function e2eCluster(options: { datanodes: number; volume: string }): Promise<TestCluster> {
  const cluster = await TestCluster.start({ masters: 3, metanodes: 3, datanodes: options.datanodes, args: (instance) => (instance.role === 'datanode' ? ['--disk-reserved', '0'] : []) });
  try {
    await cluster.createVolume(options.volume, { capacityBytes: 20 * 2 ** 30 });
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/**
 * The SDK clients a test file opens on its cluster, remembered so that `closeAll` (in
 * `after`) closes the ones a failed assertion left open: their timers would otherwise
 * keep the test file from ever exiting.
 */
export class E2eClients {
  readonly #opened: Volume[] = [];

  constructor(private readonly cluster: () => TestCluster) {}

  async open(volume: string): Promise<Volume> {
    const cluster = this.cluster();
    const opened = await Volume.open({ masters: cluster.masterAddresses(), volume, clusterSecret: cluster.secret });
    this.#opened.push(opened);
    return opened;
  }

  async closeAll(): Promise<void> {
    for (const volume of this.#opened) await volume.close().catch(() => undefined);
    this.#opened.length = 0;
  }
}
