// The plug of each node role: what the role adds to the common node runtime.
import type { DatanodeConfig, MetanodeConfig } from '../config/index.js';
import { datanodePlug } from '../datanode/index.js';
import { metanodePlug } from '../metanode/index.js';
import type { NodeRolePlug } from '../nodeagent/index.js';

export function nodeRolePlug(role: 'metanode' | 'datanode', config: MetanodeConfig | DatanodeConfig): NodeRolePlug {
  return role === 'metanode' ? metanodePlug(config as MetanodeConfig) : datanodePlug(config as DatanodeConfig);
}
