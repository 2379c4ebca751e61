// Ports for the instances of a cluster on one host, chosen at random below the kernel's
// ephemeral range (Linux: `net.ipv4.ip_local_port_range`, 32768-60999 by default).
//
// A port inside that range is also the local port of outgoing connections: while an
// instance is down (between the plan and the spawn, during a restart, after a reboot of
// a saved local cluster) any process on the host may take its port for a connection, and
// the instance then cannot bind it. Below the range only another listener can take it.
// Each port is checked free by binding it, and all are held until every one is chosen,
// so none is handed out twice in one call.
//
// Another process choosing at random could still pick a port whose instance is down for
// a moment (a restart in a test): with dozens of clusters started side by side in a test
// run, that happened. So every port handed out is also reserved, for the life of the
// process that chose it, by a file named for it in a directory shared by the host's
// processes (`<tmpdir>/atoll-ports/<port>`, holding the pid). A reservation whose process
// is gone is taken over.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Lowest port chosen: above the well-known and most registered service ports. */
export const portMin = 20_000;
/** Start of Linux's default ephemeral range; used when the kernel's cannot be read. */
export const ephemeralPortStartDefault = 32_768;
/** Fewest ports the range below the ephemeral one must hold to be used at all. */
const rangePortsMin = 1_000;
const attemptsPerPort = 50;

/** The first port of the kernel's ephemeral range (`ip_local_port_range`). */
export function ephemeralPortStart(rangeFile = '/proc/sys/net/ipv4/ip_local_port_range'): number {
  try {
    const first = Number.parseInt(readFileSync(rangeFile, 'utf8').trim().split(/\s+/)[0] ?? '', 10);
    return Number.isInteger(first) && first > 0 && first <= 65_535 ? first : ephemeralPortStartDefault;
  } catch {
    return ephemeralPortStartDefault;
  }
}

async function tryListen(host: string, port: number): Promise<Server | null> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}

/** Where reservations live unless told otherwise. */
export const reservationDirectoryDefault = join(tmpdir(), 'atoll-ports');

function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Reserves `port` for this process; false when a live process (this one included) holds
 * it. Of two processes taking over the same stale reservation, the rename lets one through.
 */
export function reservePort(directory: string, port: number): boolean {
  const path = join(directory, String(port));
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        mkdirSync(directory, { recursive: true, mode: 0o1777 });
        continue;
      }
      if (code !== 'EEXIST') return true; // a directory we may not write: binding is the only check
    }
    let owner: number;
    try {
      owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    } catch {
      continue; // taken over or removed meanwhile
    }
    if (owner === process.pid || processAlive(owner)) return false;
    const aside = `${path}.stale-${process.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // another process took it over first
    }
    rmSync(aside, { force: true });
  }
  return false;
}

export interface FreePortsOptions {
  /** Directory of port reservations shared by the host's processes; default `<tmpdir>/atoll-ports`. */
  readonly reservationDirectory?: string;
  /** First port of the range; `portMin` by default. */
  readonly portFirst?: number;
  /** Exclusive end of the range; the kernel's ephemeral start by default. */
  readonly portEnd?: number;
  /** A number in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

/**
 * `count` distinct ports free on `host`, in [portMin, ephemeral start). When the kernel's
 * ephemeral range starts so low that fewer than 1,000 ports lie below it, the kernel
 * chooses (listen on port 0), as the only choice left.
 */
export async function freePorts(host: string, count: number, options: FreePortsOptions = {}): Promise<number[]> {
  const portEnd = options.portEnd ?? ephemeralPortStart();
  const portFirst = options.portFirst ?? portMin;
  const random = options.random ?? Math.random;
  const reservationDirectory = options.reservationDirectory ?? reservationDirectoryDefault;
  const fromKernel = options.portFirst === undefined && portEnd - portFirst < rangePortsMin;
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      let found = false;
      for (let attempt = 0; attempt < attemptsPerPort && !found; attempt++) {
        const port = fromKernel ? 0 : portFirst + Math.floor(random() * (portEnd - portFirst));
        if (ports.includes(port)) continue;
        const server = await tryListen(host, port);
        if (server === null) continue;
        held.push(server);
        const bound = (server.address() as { port: number }).port;
        if (ports.includes(bound)) continue;
        if (!reservePort(reservationDirectory, bound)) continue;
        ports.push(bound);
        found = true;
      }
      if (!found) throw new Error(`free ports: no free port on ${host} in ${portFirst}-${portEnd - 1} after ${attemptsPerPort} tries`);
    }
  } finally {
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  }
  return ports;
}
