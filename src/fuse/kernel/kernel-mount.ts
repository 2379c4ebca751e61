// The kernel session's device and mount: /dev/fuse opened by this process, mounted with
// mount(8) (`-i`: no helper) given that descriptor as `fd=3`, exactly what fusermount does
// for libfuse. mount(2) needs CAP_SYS_ADMIN, so this works as root; without it the
// binding falls back to fuse-native (binding.ts), whose fusermount passes the descriptor
// back over a Unix socket, which Node cannot receive.
import { spawn } from 'node:child_process';
import { closeSync, constants, openSync, read, writevSync } from 'node:fs';
import type { KernelChannel } from './kernel-session.js';

export const fuseDevice = '/dev/fuse';

/** Whether this process may mount through the kernel session: root, and /dev/fuse opens. */
export function kernelMountPossible(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    closeSync(openSync(fuseDevice, constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}

/** /dev/fuse as a session's channel: reads in libuv's pool, replies written at once. */
export class DeviceChannel implements KernelChannel {
  readonly fd: number;
  #closed = false;

  constructor() {
    this.fd = openSync(fuseDevice, constants.O_RDWR);
  }

  read(buffer: Buffer, callback: (error: NodeJS.ErrnoException | null, bytes: number) => void): void {
    if (this.#closed) return callback(Object.assign(new Error('closed'), { code: 'ENODEV' }), 0);
    read(this.fd, buffer, 0, buffer.length, null, callback);
  }

  write(parts: readonly Buffer[]): void {
    if (this.#closed) throw Object.assign(new Error('closed'), { code: 'ENODEV' });
    writevSync(this.fd, parts as Buffer[]);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.fd);
  }
}

export interface KernelMountRequest {
  readonly mountPoint: string;
  /** Shown as the source in /proc/mounts and `df`. */
  readonly fsName: string;
  /** The type becomes `fuse.<subtype>`. */
  readonly subtype: string;
  readonly defaultPermissions: boolean;
  readonly allowOther: boolean;
  readonly timeoutMs: number;
}

const plainValue = /^[A-Za-z0-9_.:@+\-/]+$/;

/** The mount(8) arguments for a device whose descriptor is the child's fd 3. */
export function mountArguments(request: KernelMountRequest, uid: number, gid: number): string[] {
  for (const value of [request.fsName, request.subtype]) {
    if (!plainValue.test(value)) throw new Error(`fuse mount: ${JSON.stringify(value)}: only letters, digits and _.:@+-/ are allowed`);
  }
  const options = ['fd=3', 'rootmode=40000', `user_id=${uid}`, `group_id=${gid}`];
  if (request.defaultPermissions) options.push('default_permissions');
  if (request.allowOther) options.push('allow_other');
  return ['-i', '-t', `fuse.${request.subtype}`, '-o', options.join(','), request.fsName, request.mountPoint];
}

/** Mounts the device `fd` at the mount point; rejects with mount(8)'s message. */
export function mountDevice(fd: number, request: KernelMountRequest): Promise<void> {
  const args = mountArguments(request, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
  return new Promise((resolve, reject) => {
    const child = spawn('mount', args, { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), request.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`mount ${request.mountPoint}: cannot run mount(8): ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`mount ${request.mountPoint}: mount(8) ${signal !== null ? `killed by ${signal} after ${request.timeoutMs} ms` : `exited ${code}`}: ${stderr.trim()}`));
    });
  });
}
