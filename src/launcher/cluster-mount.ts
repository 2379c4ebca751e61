// The FUSE mount `atoll start` adds to its cluster: an `atoll mount <volume> <dir>`
// process (reaching the cluster through its directory), logging to <cluster-dir>/mount.log.
// It is started once the volume is ready and stopped before the instances (SIGTERM: a
// clean unmount that publishes buffered writes), and recorded in launcher.json so that
// `atoll stop` stops it too.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findMount, fusermountUnmount } from '../fuse/mount-table.js';

const atollBin = fileURLToPath(new URL('../../../bin/atoll.js', import.meta.url));
const mountReadyTimeoutMs = 60_000;
const mountStopTimeoutMs = 20_000;

export interface ClusterMount {
  readonly dir: string;
  readonly child: ChildProcess;
  readonly logPath: string;
}

/** Starts the mount process and waits (bounded) until the directory is mounted. */
/** `ownProcessGroup`: see SpawnExtras in local-cluster.ts (implied by `detached`). */
export async function startClusterMount(clusterDir: string, volume: string, mountDir: string, detached: boolean, ownProcessGroup = false): Promise<ClusterMount> {
  const dir = resolve(mountDir);
  const logPath = join(resolve(clusterDir), 'mount.log');
  const logFd = openSync(logPath, 'a');
  const child = spawn(process.execPath, [atollBin, 'mount', volume, dir, '--cluster-dir', resolve(clusterDir)], { stdio: ['ignore', logFd, logFd], detached: detached || ownProcessGroup });
  closeSync(logFd);
  if (detached) child.unref();
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + mountReadyTimeoutMs;
  // Bounded by the deadline.
  while (Date.now() < deadline) {
    if (exited) throw new Error(`atoll mount exited before mounting ${dir}; see ${logPath}:\n${tail(logPath)}`);
    if ((await findMount(dir)) !== undefined) return { dir, child, logPath };
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
  child.kill('SIGTERM');
  throw new Error(`atoll mount did not mount ${dir} within ${mountReadyTimeoutMs / 1000} s; see ${logPath}:\n${tail(logPath)}`);
}

/** Stops a mount process by its pid (SIGTERM, bounded), then clears the mount point if still mounted. */
export async function stopClusterMount(pid: number | null, dir: string): Promise<void> {
  if (pid !== null && isMountProcess(pid, dir)) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + mountStopTimeoutMs;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((resolveWait) => setTimeout(resolveWait, 50));
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  if ((await findMount(dir)) !== undefined) await fusermountUnmount(dir, true).catch(() => undefined);
}

/** The pid is still `atoll mount` of this directory (a recorded pid may have been reused). */
function isMountProcess(pid: number, dir: string): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.includes('mount') && args.includes(dir);
  } catch {
    return false;
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-10).join('\n');
  } catch {
    return '(no log)';
  }
}
