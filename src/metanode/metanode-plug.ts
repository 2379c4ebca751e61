// What the metanode adds to the common node runtime: meta partitions on the configured
// engine (in-memory B+ tree, or LMDB under the partition's directory) and the MetaNode
// RPC service.
import { join } from 'node:path';
import type { MetanodeConfig } from '../config/index.js';
import type { NodeRolePlug, PartitionFactory, PartitionSpec } from '../nodeagent/index.js';
import { PartitionKind } from '../proto/generated/master.js';
import { MetaPartition } from './meta-partition.js';
import { registerMetaService } from './meta-service.js';
import { LmdbEngine, MemoryEngine, type KvEngine } from './store/index.js';

export function metaPartitionFactory(engine: MetanodeConfig['engine']): PartitionFactory {
  return {
    kind: PartitionKind.PARTITION_META,
    open: async (spec: PartitionSpec, dir: string) => {
      const store: KvEngine = engine === 'lmdb' ? await LmdbEngine.open(join(dir, 'lmdb')) : new MemoryEngine();
      return new MetaPartition({ spec, engine: store });
    },
  };
}

export function metanodePlug(config: MetanodeConfig): NodeRolePlug {
  return {
    factory: metaPartitionFactory(config.engine),
    registerService: (instance, partitions) => registerMetaService(instance.rpc, partitions),
    statusExtra: () => ({ engine: config.engine }),
  };
}
