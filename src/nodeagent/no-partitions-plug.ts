// The plug of a role whose partitions this build cannot hold yet: it opens nothing, so
// every create task fails (logged once per partition by the host) and the master keeps
// the partition on other nodes. Transitional: each role replaces it with its own plug.
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import type { PartitionKind } from '../proto/generated/master.js';
import type { NodeRolePlug } from './node-role.js';

export function noPartitionsPlug(kind: PartitionKind, role: string): NodeRolePlug {
  return {
    factory: {
      kind,
      open: () => Promise.reject(new AtollError(StatusCode.NOT_SUPPORTED, `${role} partitions are not implemented in this build`)),
    },
    registerService: () => {},
  };
}
