// TEST ONLY: the cluster every end-to-end file starts: three masters and three metanodes
// as `atoll start` runs them, the datanodes the file needs (no disk reserve, so a small
// test disk still takes data), and one volume of 20 GiB with three replicas.
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
