// TEST ONLY: `atoll mount` as a separate process (a process must not use a FUSE mount it
// serves itself). Start waits for its "mounted" line; stop sends SIGTERM (a clean
// unmount) and, if the process does not go in time, kills it and clears the mount point.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { findMount, fusermountUnmount } from '../mount-table.js';

const atoll = fileURLToPath(new URL('../../../../bin/atoll.js', import.meta.url));
const readyTimeoutMs = 60_000;
const stopTimeoutMs = 20_000;

export class AtollMount {
  #output = '';
  readonly #exited: Promise<number | null>;

  private constructor(
    readonly mountPoint: string,
    readonly child: ChildProcess,
  ) {
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.#output += chunk));
  }

  /** `args`: the connection flags (-p ..., --cluster-secret-file ...). */
  static async start(volume: string, mountPoint: string, args: readonly string[]): Promise<AtollMount> {
    const child = spawn(process.execPath, [atoll, 'mount', volume, mountPoint, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const mounted = new AtollMount(mountPoint, child);
    const lines = createInterface({ input: child.stdout! });
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), readyTimeoutMs);
      lines.on('line', (line) => {
        mounted.#output += `${line}\n`;
        if (line.startsWith('mounted ')) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!ready) {
      await mounted.stop();
      throw new Error(`atoll mount of ${volume} at ${mountPoint} did not come up:\n${mounted.#output}`);
    }
    return mounted;
  }

  get output(): string {
    return this.#output;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM and wait (bounded); the exit code, or null when it had to be killed. */
  async stop(): Promise<number | null> {
    let code: number | null = null;
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), stopTimeoutMs));
      const result = await Promise.race([this.#exited, timer]);
      if (result === 'late') {
        this.child.kill('SIGKILL');
        await this.#exited;
      } else {
        code = result;
      }
    }
    if ((await findMount(this.mountPoint)) !== undefined) await fusermountUnmount(this.mountPoint, true).catch(() => undefined);
    return code;
  }
}
