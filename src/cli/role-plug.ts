// The plug of each node role: what the role adds to the common node runtime.
import type { DatanodeConfig, MetanodeConfig } from '../config/index.js';
import { metanodePlug } from '../metanode/index.js';
import type { NodeRolePlug } from '../nodeagent/index.js';
import { noPartitionsPlug } from '../nodeagent/no-partitions-plug.js';
import { PartitionKind } from '../proto/generated/master.js';

export function nodeRolePlug(role: 'metanode' | 'datanode', config: MetanodeConfig | DatanodeConfig): NodeRolePlug {
  if (role === 'metanode') return metanodePlug(config as MetanodeConfig);
  return noPartitionsPlug(PartitionKind.PARTITION_DATA, role);
}
