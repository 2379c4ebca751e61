export {
  instanceArguments,
  instancesPerRoleMax,
  loadOrCreatePlan,
  mastersOf,
  planInstances,
  probe,
  serviceAddress,
  spawnInstance,
  startPlannedEtcd,
  stopCluster,
  waitReady,
  writeLauncherRecord,
  type ClusterPlan,
  type ClusterShape,
  type MasterBackendName,
  type PlannedEtcd,
  type PlannedInstance,
  type RunningInstance,
  type SpawnExtras,
} from './local-cluster.js';
export { defaultVolumeName, ensureDefaultVolume } from './default-volume.js';
export { startClusterMount, stopClusterMount, type ClusterMount } from './cluster-mount.js';
export { ephemeralPortStart, freePorts } from './free-ports.js';
