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
import { DataClient } from '../dataclient/index.js';
import { AtollError, StatusCode } from '../errors/index.js';
import type { RpcClient } from '../rpc/index.js';
import { MetaClient } from '../metaclient/index.js';
import { LookupRequest, MetaNode, RenameStep } from '../proto/generated/metanode.js';

/** The clients of each volume a metanode needs: data (freeing extents), meta (orphan checks). */
export interface VolumeClients {
  of(volume: string): DataClient;
  meta(volume: string): MetaClient;
}
import type { MasterClient } from '../masterclient/index.js';

export function metaPartitionFactory(engine: MetanodeConfig['engine'], volumes: VolumeSettings, volumeClients: VolumeClients): PartitionFactory {
  return {
    kind: PartitionKind.PARTITION_META,
    open: async (spec: PartitionSpec, dir: string) => {
      volumes.trashRetentionSec(spec.volume);
      const store: KvEngine = engine === 'lmdb' ? await LmdbEngine.open(join(dir, 'lmdb')) : new MemoryEngine();
      return new MetaPartition({
        spec,
        engine: store,
        trashRetentionSec: () => volumes.trashRetentionSec(spec.volume),
        releaseExtents: async (partitionId, ranges) => {
          await volumeClients.of(spec.volume).deleteExtents(partitionId, ranges);
        },
        renameTxnAt: (request) => volumeClients.meta(spec.volume).call(MetaNode.renameTxn, request, { mutation: request.step !== RenameStep.RENAME_STATUS }),
        partitionOfIno: async (ino) => (await volumeClients.meta(spec.volume).partitionOf(ino)).partitionId,
        // Sending again is harmless: the target applies each sequence once.
        dropRemoteLinksAt: (request) => volumeClients.meta(spec.volume).call(MetaNode.dropRemoteLinks, request, { mutation: true }),
        lookupEntry: async (parentIno, name) => {
          const meta = volumeClients.meta(spec.volume);
          const partition = await meta.partitionOf(parentIno);
          try {
            const answer = await meta.call(MetaNode.lookup, LookupRequest.create({ partitionId: partition.partitionId, parentIno, name }), { mutation: false });
            return answer.dentry?.ino ?? 0;
          } catch (error) {
            if (error instanceof AtollError && error.status === StatusCode.NOT_FOUND) return 0;
            throw error;
          }
        },
      });
    },
  };
}

export function metanodePlug(config: MetanodeConfig): NodeRolePlug {
  let masterClient: (() => MasterClient) | null = null;
  let rpcClient: RpcClient | null = null;
  const volumes = new VolumeSettings(() => masterClient?.() ?? null);
  // One client of each kind per volume, made on first use (after the service registered).
  const perVolume = <Client>(make: (options: { rpc: RpcClient; masterClient: MasterClient; volume: string }) => Client): ((volume: string) => Client) => {
    const made = new Map<string, Client>();
    return (volume) => {
      let client = made.get(volume);
      if (client === undefined) {
        if (masterClient === null || rpcClient === null) throw new AtollError(StatusCode.UNAVAILABLE, 'the metanode is starting');
        client = make({ rpc: rpcClient, masterClient: masterClient(), volume });
        made.set(volume, client);
      }
      return client;
    };
  };
  const volumeClients: VolumeClients = { of: perVolume((options) => new DataClient(options)), meta: perVolume((options) => new MetaClient(options)) };
  return {
    factory: metaPartitionFactory(config.engine, volumes, volumeClients),
    registerService: (instance, partitions, rpc, masters) => {
      masterClient = masters;
      rpcClient = rpc;
      registerMetaService(instance.rpc, partitions);
    },
    statusExtra: () => ({ engine: config.engine }),
  };
}
