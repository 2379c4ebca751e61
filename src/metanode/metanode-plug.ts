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
import { VolumeSettings } from './volume-settings.js';
import type { MasterClient } from '../masterclient/index.js';

export function metaPartitionFactory(engine: MetanodeConfig['engine'], volumes: VolumeSettings): PartitionFactory {
  return {
    kind: PartitionKind.PARTITION_META,
    open: async (spec: PartitionSpec, dir: string) => {
      volumes.trashRetentionSec(spec.volume);
      const store: KvEngine = engine === 'lmdb' ? await LmdbEngine.open(join(dir, 'lmdb')) : new MemoryEngine();
      return new MetaPartition({ spec, engine: store, trashRetentionSec: () => volumes.trashRetentionSec(spec.volume) });
    },
  };
}

export function metanodePlug(config: MetanodeConfig): NodeRolePlug {
  let masterClient: (() => MasterClient) | null = null;
  const volumes = new VolumeSettings(() => masterClient?.() ?? null);
  return {
    factory: metaPartitionFactory(config.engine, volumes),
    registerService: (instance, partitions, _rpc, masters) => {
      masterClient = masters;
      registerMetaService(instance.rpc, partitions);
    },
    statusExtra: () => ({ engine: config.engine }),
  };
}
