// TEST ONLY: a seeded read/write workload through the volume SDK that keeps its own
// record of what every file must hold. Each step is one of: create a file (sizes from
// empty to several extents' worth of packets), overwrite a range (possibly past the end:
// a hole then data), replace a whole file, read a file back and compare, rename, unlink.
// A failed operation is recorded (with the step, seed and error) and its file is no
// longer checked, since its content is then unknown; the tests assert that none failed.
// `verify` compares every file the record holds, and the directory listing, at the end.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import type { Volume } from '../client/index.js';
import { createRandom } from '../random/index.js';

/** Deterministic bytes of a given size (a salt makes every write's content differ). */
export function patternBytes(size: number, salt: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let state = (salt * 2654435761) >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

const kib = 1024;
// Empty, one byte, small files (tiny extents), a block and a half, several packets, over a megabyte.
const fileSizes = [0, 1, 700, 4 * kib - 1, 64 * kib + 3, 200 * kib, 1200 * kib];
const overwriteSizes = [1, 100, 5 * kib, 130 * kib];

export type WorkloadOperation = 'create' | 'overwrite' | 'replace' | 'read' | 'rename' | 'unlink';

export interface WorkloadOptions {
  readonly volume: Volume;
  /** An existing directory only this workload uses. */
  readonly directory: string;
  readonly seed: number;
  /** Files kept at most (creates stop above it). */
  readonly filesMax?: number;
}

export class FileWorkload {
  /** What each file must hold, by path. */
  readonly expected = new Map<string, Buffer>();
  readonly failures: string[] = [];
  readonly counts: Record<WorkloadOperation, number> = { create: 0, overwrite: 0, replace: 0, read: 0, rename: 0, unlink: 0 };
  readonly #options: WorkloadOptions;
  readonly #next: (below: number) => number;
  readonly #uncertain = new Set<string>();
  #names = 0;
  #steps = 0;

  constructor(options: WorkloadOptions) {
    this.#options = options;
    const random = createRandom(options.seed);
    this.#next = (below) => random.nextInt(below);
  }

  get steps(): number {
    return this.#steps;
  }

  /** Runs steps until `stop()` says so (checked between steps) or `stepsMax` is reached. */
  async run(stop: () => boolean, stepsMax: number): Promise<void> {
    for (let step = 0; step < stepsMax && !stop(); step++) await this.step();
  }

  /** One operation, chosen by the seeded stream. */
  async step(): Promise<void> {
    const step = this.#steps++;
    const next = this.#next;
    const known = [...this.expected.keys()];
    const filesMax = this.#options.filesMax ?? 12;
    const pick = (): string | undefined => (known.length === 0 ? undefined : known[next(known.length)]);
    const choice = next(100);
    let operation: WorkloadOperation;
    let path: string | undefined;
    if (known.length === 0 || (choice < 25 && known.length < filesMax)) {
      operation = 'create';
      path = `${this.#options.directory}/f${this.#names++}`;
    } else if (choice < 45) {
      operation = 'overwrite';
      path = pick();
    } else if (choice < 55) {
      operation = 'replace';
      path = pick();
    } else if (choice < 80) {
      operation = 'read';
      path = pick();
    } else if (choice < 92) {
      operation = 'rename';
      path = pick();
    } else {
      operation = 'unlink';
      path = pick();
    }
    if (path === undefined) return;
    const salt = this.#options.seed * 7919 + step;
    try {
      await this.#run(operation, path, salt);
      this.counts[operation]++;
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      this.failures.push(`seed ${this.#options.seed} step ${step}: ${operation} ${path}: ${code} ${(error as Error).message}`);
      // Whatever happened to this file is unknown now: stop checking it.
      this.#uncertain.add(path);
      this.expected.delete(path);
    }
  }

  async #run(operation: WorkloadOperation, path: string, salt: number): Promise<void> {
    const { volume } = this.#options;
    const next = this.#next;
    switch (operation) {
      case 'create': {
        const content = patternBytes(fileSizes[next(fileSizes.length)]!, salt);
        await volume.writeFile(path, content, { flag: 'wx' });
        this.expected.set(path, content);
        return;
      }
      case 'replace': {
        const content = patternBytes(fileSizes[next(fileSizes.length)]!, salt);
        await volume.writeFile(path, content);
        this.expected.set(path, content);
        return;
      }
      case 'overwrite': {
        const current = this.expected.get(path)!;
        const bytes = patternBytes(overwriteSizes[next(overwriteSizes.length)]!, salt);
        // Mostly inside the file; sometimes past its end (a hole, then the bytes).
        const position = next(current.byteLength + (next(4) === 0 ? 20 * kib : 1));
        const handle = await volume.open(path, 'r+');
        try {
          await handle.write(bytes, 0, bytes.byteLength, position);
        } finally {
          await handle.close();
        }
        const grown = Buffer.alloc(Math.max(current.byteLength, position + bytes.byteLength));
        current.copy(grown);
        bytes.copy(grown, position);
        this.expected.set(path, grown);
        return;
      }
      case 'read': {
        const back = (await volume.readFile(path)) as Buffer;
        const expected = this.expected.get(path)!;
        if (!back.equals(expected)) throw new Error(`content differs: read ${back.byteLength} bytes, expected ${expected.byteLength}, first difference at ${firstDifference(back, expected)}`);
        return;
      }
      case 'rename': {
        const target = `${this.#options.directory}/r${this.#names++}`;
        await volume.rename(path, target);
        this.expected.set(target, this.expected.get(path)!);
        this.expected.delete(path);
        return;
      }
      case 'unlink': {
        await volume.unlink(path);
        this.expected.delete(path);
        return;
      }
    }
  }

  /** Every recorded file reads back as recorded through `volume`, and the directory holds exactly them (and the uncertain ones, if any). */
  async verify(volume: Volume, label: string): Promise<void> {
    const listed = new Set((await volume.readdir(this.#options.directory)) as string[]);
    for (const [path, expected] of this.expected) {
      const name = path.slice(this.#options.directory.length + 1);
      assert.ok(listed.has(name), `${label}: ${path} is missing from its directory`);
      const back = (await volume.readFile(path)) as Buffer;
      assert.ok(back.equals(expected), `${label}: ${path} holds ${back.byteLength} bytes, expected ${expected.byteLength}; first difference at ${firstDifference(back, expected)}`);
    }
    const unexpected = [...listed].filter((name) => !this.expected.has(`${this.#options.directory}/${name}`) && !this.#uncertain.has(`${this.#options.directory}/${name}`));
    assert.deepEqual(unexpected, [], `${label}: files the workload removed or never made`);
  }

  summary(): string {
    return `${this.#steps} steps (${Object.entries(this.counts).map(([operation, count]) => `${operation} ${count}`).join(', ')}), ${this.expected.size} files, ${this.failures.length} failed`;
  }
}

function firstDifference(left: Buffer, right: Buffer): number {
  const length = Math.min(left.byteLength, right.byteLength);
  for (let index = 0; index < length; index++) if (left[index] !== right[index]) return index;
  return length;
}

/** Workers in their own directories `/w<n>` of one client, running until stopped. */
export interface RunningWorkloads {
  readonly seed: number;
  readonly workloads: readonly FileWorkload[];
  /** Total steps so far, of every worker. */
  steps(): number;
  /** Stops the workers after their current step and waits for them. */
  stop(): Promise<void>;
  /** After stop(): no operation failed, and every file reads back as recorded. */
  check(label: string): Promise<void>;
}

const workloadStepsMax = 100_000;

/**
 * Starts `workers` workloads on `volume`, seeded from ATOLL_TEST_SEED or at random (the
 * seed is printed so a failing run can be repeated).
 */
export async function startWorkloads(volume: Volume, label: string, workers = 2): Promise<RunningWorkloads> {
  const seed = Number(process.env.ATOLL_TEST_SEED ?? randomInt(1, 2 ** 31 - 1));
  process.stdout.write(`# ${label} workload seed ${seed}\n`);
  const workloads: FileWorkload[] = [];
  for (let index = 0; index < workers; index++) {
    await volume.mkdir(`/w${index}`);
    workloads.push(new FileWorkload({ volume, directory: `/w${index}`, seed: seed + index }));
  }
  let stop = false;
  const running = workloads.map((workload) => workload.run(() => stop, workloadStepsMax));
  return {
    seed,
    workloads,
    steps: () => workloads.reduce((sum, workload) => sum + workload.steps, 0),
    stop: async () => {
      stop = true;
      await Promise.all(running);
    },
    check: async (at) => {
      for (const workload of workloads) process.stdout.write(`# ${workload.summary()}\n`);
      assert.deepEqual(workloads.flatMap((workload) => workload.failures), [], `no operation failed (${at})`);
      assert.ok(workloads.every((workload) => workload.counts.read > 0 && workload.counts.create > 0), 'the workload read and created');
      for (const [index, workload] of workloads.entries()) await workload.verify(volume, `${at} (worker ${index})`);
    },
  };
}

/** Every worker's files read back as recorded through another client. */
export async function verifyWorkloads(running: RunningWorkloads, volume: Volume, label: string): Promise<void> {
  for (const [index, workload] of running.workloads.entries()) await workload.verify(volume, `${label} (worker ${index})`);
}
