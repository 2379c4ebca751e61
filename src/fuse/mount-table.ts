// What the kernel says about a mount point: listed in /proc/mounts, alive or stale
// (its FUSE server died: every access fails with ENOTCONN), and the unmount commands.
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

export interface MountEntry {
  readonly source: string;
  readonly mountPoint: string;
  readonly type: string;
  readonly options: string;
}

/** /proc/mounts escapes space, tab, newline and backslash as octal (\040 ...). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMounts(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 4) continue;
    entries.push({ source: unescapeMountField(fields[0]!), mountPoint: unescapeMountField(fields[1]!), type: fields[2]!, options: fields[3]! });
  }
  return entries;
}

export async function readMounts(): Promise<MountEntry[]> {
  return parseMounts(await readFile('/proc/mounts', 'utf8'));
}

/**
 * The device (`major:minor`) of the mount at exactly this directory, from this process's
 * mountinfo (no access to the mount itself, which its serving process must not block on).
 */
export async function mountDevice(mountPoint: string): Promise<string | undefined> {
  const absolute = resolve(mountPoint);
  let found: string | undefined;
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const fields = line.split(' ');
    if (fields.length > 4 && unescapeMountField(fields[4]!) === absolute) found = fields[2];
  }
  return found;
}

/**
 * Sets the kernel's read-ahead of a mount (its bdi's read_ahead_kb; root only). The
 * kernel's FUSE read requests are no larger than it.
 */
export async function setReadAhead(mountPoint: string, bytes: number): Promise<void> {
  const device = await mountDevice(mountPoint);
  if (device === undefined) throw new Error(`read-ahead of ${mountPoint}: not in /proc/self/mountinfo`);
  await writeFile(`/sys/class/bdi/${device}/read_ahead_kb`, String(Math.ceil(bytes / 1024)));
}

/** The mount entry of exactly this directory, the last one when mounts are stacked. */
export async function findMount(mountPoint: string): Promise<MountEntry | undefined> {
  const absolute = resolve(mountPoint);
  const entries = (await readMounts()).filter((entry) => entry.mountPoint === absolute);
  return entries.at(-1);
}

export type MountState = 'not-mounted' | 'mounted' | 'stale';

/**
 * 'stale': a FUSE mount whose server is gone (stat answers ENOTCONN); it must be lazily
 * unmounted before anything can be mounted there again.
 */
export async function mountState(mountPoint: string): Promise<MountState> {
  try {
    await stat(mountPoint);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTCONN') return 'stale';
  }
  return (await findMount(mountPoint)) === undefined ? 'not-mounted' : 'mounted';
}

const fusermountCandidates = ['fusermount3', 'fusermount'] as const;
const fusermountTimeoutMs = 10_000;

function run(command: string, args: readonly string[]): Promise<{ ok: boolean; missing: boolean; output: string }> {
  return new Promise((resolvePromise) => {
    execFile(command, args, { timeout: fusermountTimeoutMs }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      if (error === null) resolvePromise({ ok: true, missing: false, output });
      else resolvePromise({ ok: false, missing: (error as NodeJS.ErrnoException).code === 'ENOENT', output: output || error.message });
    });
  });
}

/**
 * `fusermount -u` (with `-z`, lazy: detach now, finish when the last user lets go).
 * fusermount3 first, then fusermount; throws with fusermount's own words on failure.
 */
export async function fusermountUnmount(mountPoint: string, lazy: boolean): Promise<void> {
  const args = lazy ? ['-u', '-z', resolve(mountPoint)] : ['-u', resolve(mountPoint)];
  const failures: string[] = [];
  for (const command of fusermountCandidates) {
    const result = await run(command, args);
    if (result.ok) return;
    if (result.missing) continue;
    failures.push(`${command}: ${result.output}`);
    break;
  }
  if (failures.length === 0) throw new Error(`unmount ${mountPoint}: neither fusermount3 nor fusermount is installed (Debian package fuse3)`);
  throw new Error(`unmount ${mountPoint}: ${failures.join('; ')}`);
}

/** Lazily unmounts a stale mount point; does nothing to a live or absent one. */
export async function clearStaleMount(mountPoint: string): Promise<boolean> {
  if ((await mountState(mountPoint)) !== 'stale') return false;
  await fusermountUnmount(mountPoint, true);
  return true;
}

/** Waits (bounded) until /proc/mounts no longer lists the mount point. */
export async function waitUntilUnmounted(mountPoint: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await findMount(mountPoint)) === undefined) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 20));
  }
}
