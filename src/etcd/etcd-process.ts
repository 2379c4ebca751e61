// Runs one local etcd server as a child process: a single-member cluster on loopback
// ports, its data in a directory of ours. `atoll start --backend etcd` and the tests use
// it; production masters talk to an etcd the operator runs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { describePortOwner, findPortOwner } from '../config/port-owner.js';
import { EtcdClient } from './etcd-client.js';

export interface EtcdProcessOptions {
  readonly dataDir: string;
  readonly host: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** The etcd executable; default `etcd` on the PATH (or $ATOLL_ETCD_BIN). */
  readonly binary?: string;
  /** Where etcd's own log goes: 'ignore' (default) or 'inherit'; `logFile` wins over it. */
  readonly stdio?: 'ignore' | 'inherit';
  /** Append etcd's log to this file. */
  readonly logFile?: string;
  /** Its own process group, left running when this process exits (atoll start --detach). */
  readonly detached?: boolean;
  /** Its own process group while this process still stops it (a terminal's Ctrl-C does not reach it). */
  readonly ownProcessGroup?: boolean;
  /** How long etcd may take to answer after it started. */
  readonly readyDeadlineMs?: number;
}

export function etcdBinary(): string {
  return process.env.ATOLL_ETCD_BIN ?? 'etcd';
}

/** The etcd version line, or null when no etcd executable runs. */
export function etcdVersion(binary = etcdBinary()): string | null {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error !== undefined || result.status !== 0) return null;
  return result.stdout.split('\n')[0]?.trim() ?? null;
}

export class EtcdProcess {
  readonly options: EtcdProcessOptions;
  /** host:port of the client URL. */
  readonly endpoint: string;
  #child: ChildProcess | null = null;

  private constructor(options: EtcdProcessOptions) {
    this.options = options;
    this.endpoint = `${options.host}:${options.clientPort}`;
  }

  /** Starts etcd and waits until it answers a range request. */
  static async start(options: EtcdProcessOptions): Promise<EtcdProcess> {
    const process_ = new EtcdProcess(options);
    await process_.restart();
    return process_;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts etcd again on the same ports and data (after stop or kill). */
  async restart(): Promise<void> {
    if (this.running) return;
    const { dataDir, host, clientPort, peerPort } = this.options;
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const clientUrl = `http://${host}:${clientPort}`;
    const peerUrl = `http://${host}:${peerPort}`;
    const logFd = this.options.logFile === undefined ? null : openSync(this.options.logFile, 'a');
    const output = logFd ?? this.options.stdio ?? 'ignore';
    const child = spawn(this.options.binary ?? etcdBinary(), [
      '--name', 'atoll-etcd',
      '--data-dir', dataDir,
      '--listen-client-urls', clientUrl,
      '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl,
      '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `atoll-etcd=${peerUrl}`,
      '--initial-cluster-state', 'new',
      // The masters rewrite node records every report flush: keep one hour of history.
      '--auto-compaction-mode', 'periodic',
      '--auto-compaction-retention', '1h',
      '--log-level', 'error',
      '--logger', 'zap',
    ], { stdio: ['ignore', output, output], detached: this.options.detached === true || this.options.ownProcessGroup === true });
    if (logFd !== null) closeSync(logFd);
    if (this.options.detached === true) child.unref();
    this.#child = child;
    const exited = new Promise<string>((resolve) => {
      child.once('error', (error) => resolve(error.message));
      child.once('exit', (code, signal) => resolve(`exited with ${signal ?? code}`));
    });
    const client = new EtcdClient({ endpoints: [this.endpoint], requestDeadlineMs: 1_000 });
    const deadline = Date.now() + (this.options.readyDeadlineMs ?? 30_000);
    let lastError = '';
    for (;;) {
      const early = await Promise.race([exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 100))]);
      if (early !== null) {
        const holder = await findPortOwner(host, clientPort);
        const why = holder !== undefined ? `port ${clientPort} is held by ${describePortOwner(holder)}` : lastError;
        throw new Error(`etcd at ${this.endpoint} did not start: ${early}${why === '' ? '' : ` (${why})`}`);
      }
      try {
        await client.range('/');
        // Answered, but maybe by another etcd on the same port (this one then fails to
        // bind and exits): ready only when the listener is this child (where /proc says).
        const owner = await findPortOwner(host, clientPort);
        if (owner === undefined || owner.pid === child.pid) return;
        lastError = `port ${clientPort} is held by ${describePortOwner(owner)}, not by this etcd (pid ${child.pid})`;
      } catch (error) {
        lastError = (error as Error).message;
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`etcd at ${this.endpoint} did not answer within ${this.options.readyDeadlineMs ?? 30_000} ms: ${lastError}`);
      }
    }
  }

  /** Sends a signal (tests: SIGSTOP, SIGCONT, SIGKILL). */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.#child!.kill(signal);
  }

  /** Stops etcd (SIGTERM, SIGKILL after `graceMs`) and waits for it to exit. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.#child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
