// The offline check of several instance configs meant for one host (`atoll config check`):
// what would make two of them refuse to start together, or worse, start and share state.
// Pure: it compares loaded configs; reading the files is the caller's job.
//
// Checked, for every pair of instances:
// - a non-zero port used twice on one address (0.0.0.0 and :: overlap every address);
// - a data directory or datanode disk that is the same as, or inside, another
//   instance's data directory or disk (one instance's disks inside its own data
//   directory is the default and fine);
// - the same instance name (it labels logs and metrics, and is the default data dir).

import { sep } from 'node:path';
import { listInstancePorts, type ServerConfigBase, type ServerRole } from './roles.js';

export interface HostInstance {
  /** How messages name the config, usually its file path. */
  readonly label: string;
  readonly role: ServerRole;
  readonly config: ServerConfigBase & { readonly disks?: readonly string[] };
}

export type HostProblemKind = 'port' | 'directory' | 'instance-name';

export interface HostProblem {
  readonly kind: HostProblemKind;
  /** The two configs involved, as labelled. */
  readonly labels: readonly [string, string];
  readonly message: string;
}

const wildcardHosts = new Set(['0.0.0.0', '::', '[::]']);

function sameAddress(a: string, b: string): boolean {
  return a === b || wildcardHosts.has(a) || wildcardHosts.has(b);
}

interface OwnedDirectory {
  readonly path: string;
  /** 'data-dir' or 'disks'. */
  readonly key: string;
}

function directoriesOf(instance: HostInstance): OwnedDirectory[] {
  const disks = instance.config.disks ?? [];
  return [{ path: instance.config.dataDir, key: 'data-dir' }, ...disks.map((path) => ({ path, key: 'disks' }))];
}

/** 'same' when equal, 'inside' when `inner` lies under `outer`, else undefined. */
function nesting(inner: string, outer: string): 'same' | 'inside' | undefined {
  if (inner === outer) return 'same';
  const prefix = outer.endsWith(sep) ? outer : `${outer}${sep}`;
  return inner.startsWith(prefix) ? 'inside' : undefined;
}

function named(instance: HostInstance): string {
  return `${instance.config.instance} (${instance.role}, ${instance.label})`;
}

/** Every problem between pairs of `instances`, in input order; empty when they fit one host. */
export function checkHostInstances(instances: readonly HostInstance[]): HostProblem[] {
  const problems: HostProblem[] = [];
  for (let later = 1; later < instances.length; later++) {
    for (let earlier = 0; earlier < later; earlier++) {
      const a = instances[earlier]!;
      const b = instances[later]!;
      const labels = [a.label, b.label] as const;
      if (a.config.instance === b.config.instance) {
        problems.push({ kind: 'instance-name', labels, message: `instance name ${a.config.instance} is used by both ${a.label} and ${b.label}: give each instance its own instance key` });
      }
      if (sameAddress(a.config.host, b.config.host)) {
        for (const portA of listInstancePorts(a.config)) {
          if (portA.port === 0) continue;
          for (const portB of listInstancePorts(b.config)) {
            if (portB.port !== portA.port) continue;
            problems.push({
              kind: 'port',
              labels,
              message: `port ${portA.port} is ${portA.key} of ${named(a)} and ${portB.key} of ${named(b)}: change one of them`,
            });
          }
        }
      }
      for (const dirA of directoriesOf(a)) {
        for (const dirB of directoriesOf(b)) {
          const relation = nesting(dirA.path, dirB.path) ?? nesting(dirB.path, dirA.path);
          if (relation === undefined) continue;
          const how = relation === 'same' ? `${dirA.path} is both` : nesting(dirA.path, dirB.path) !== undefined ? `${dirA.path} lies inside` : `${dirB.path} lies inside`;
          const detail =
            relation === 'same'
              ? `${how} ${dirA.key} of ${named(a)} and ${dirB.key} of ${named(b)}`
              : nesting(dirA.path, dirB.path) !== undefined
                ? `${how} ${dirB.key} ${dirB.path} of ${named(b)} (it is ${dirA.key} of ${named(a)})`
                : `${how} ${dirA.key} ${dirA.path} of ${named(a)} (it is ${dirB.key} of ${named(b)})`;
          problems.push({ kind: 'directory', labels, message: `${detail}: every instance needs directories of its own` });
        }
      }
    }
  }
  return problems;
}
