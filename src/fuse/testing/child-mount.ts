// TEST ONLY: the in-memory file system mounted by a child process (never by the test
// process: FUSE operations run on the serving process's JS thread, so its own access to
// the mount deadlocks or serializes). Stopping is bounded and always leaves the mount
// point unmounted, even when the child misbehaves.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { findMount, fusermountUnmount, waitUntilUnmounted } from '../mount-table.js';

const entry = fileURLToPath(new URL('./mount-memory-fs.js', import.meta.url));
const readyTimeoutMs = 15_000;
const stopTimeoutMs = 10_000;

export interface ChildMountOptions {
  readonly bigWrites?: boolean;
  readonly bytesMax?: number;
}

export class ChildMount {
  private readonly lines: string[] = [];
  private stderr = '';
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(readonly mountPoint: string, readonly child: ChildProcess) {
    this.exited = new Promise((resolvePromise) => child.once('exit', (code) => {
      this.exitCode = code;
      resolvePromise(code);
    }));
    createInterface({ input: child.stdout! }).on('line', (text) => this.lines.push(text));
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  static async start(mountPoint: string, options: ChildMountOptions = {}): Promise<ChildMount> {
    const args = [entry, mountPoint];
    if (options.bigWrites === false) args.push('--no-big-writes');
    if (options.bytesMax !== undefined) args.push('--bytes-max', String(options.bytesMax));
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const mounted = new ChildMount(mountPoint, child);
    const ready = await mounted.waitForLine((value) => 'ready' in value || 'error' in value, readyTimeoutMs);
    if (!('ready' in ready)) {
      await mounted.stop();
      throw new Error(`memory fs child at ${mountPoint} did not mount: ${JSON.stringify(ready)} ${mounted.stderr}`);
    }
    return mounted;
  }

  /** Lines the child printed, parsed. */
  messages(): Record<string, unknown>[] {
    return this.lines.map((text) => JSON.parse(text) as Record<string, unknown>);
  }

  get output(): string {
    return `${this.lines.join('\n')}\n${this.stderr}`;
  }

  async waitForLine(match: (value: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages().find(match);
      if (found !== undefined) return found;
      if (this.exitCode !== undefined) throw new Error(`memory fs child exited with ${this.exitCode}: ${this.output}`);
      if (Date.now() >= deadline) throw new Error(`memory fs child: no matching line after ${timeoutMs} ms: ${this.output}`);
      await new Promise((resolvePromise) => setTimeout(resolvePromise, 20));
    }
  }

  /** The exit code once the child has exited, or null on a signal; undefined while running. */
  get exit(): number | null | undefined {
    return this.exitCode;
  }

  async waitForExit(timeoutMs: number): Promise<boolean> {
    if (this.exitCode !== undefined) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolvePromise) => (timer = setTimeout(() => resolvePromise(false), timeoutMs)));
    const result = await Promise.race([this.exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return result;
  }

  /**
   * SIGTERM, then (bounded) SIGKILL; a mount still listed afterwards is lazily
   * unmounted. Returns whether the child unmounted cleanly by itself.
   */
  async stop(): Promise<boolean> {
    let clean = false;
    if (this.exitCode === undefined) {
      this.child.kill('SIGTERM');
      clean = await this.waitForExit(stopTimeoutMs);
      if (!clean) {
        this.child.kill('SIGKILL');
        await this.waitForExit(stopTimeoutMs);
      }
    }
    if ((await findMount(this.mountPoint)) !== undefined) {
      clean = false;
      await fusermountUnmount(this.mountPoint, true);
      await waitUntilUnmounted(this.mountPoint, stopTimeoutMs);
    }
    return clean && this.exitCode === 0;
  }
}
