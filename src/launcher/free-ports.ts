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
// a moment (a restart in a test, a saved cluster between two starts): with dozens of
// clusters started side by side in a test run, that happened. So every port handed out
// is also reserved, in a directory the host's processes share (`<tmpdir>/atoll-ports/
// <port>/`), for the process that chose it (while it lives) or for the saved cluster
// directory that plans with it (while that exists). A reservation whose owner is gone
// is removed by the next one to look.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from './cluster-mount.js';

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

/**
 * Who holds a reservation: a process (for its life), or a saved cluster directory (for
 * as long as it exists: `atoll start` plans once and reuses its ports on every start).
 */
export type PortOwner = { readonly pid: number } | { readonly clusterDir: string };

function ownerFile(owner: PortOwner): { name: string; content: string } {
  if ('pid' in owner) return { name: `pid-${owner.pid}`, content: String(owner.pid) };
  return { name: `dir-${createHash('sha256').update(owner.clusterDir).digest('hex').slice(0, 32)}`, content: owner.clusterDir };
}

function ownerAlive(directory: string, name: string): boolean {
  if (name.startsWith('pid-')) {
    const pid = Number(name.slice(4));
    return Number.isSafeInteger(pid) && pid > 0 && isAlive(pid);
  }
  if (!name.startsWith('dir-')) return false;
  try {
    return existsSync(readFileSync(join(directory, name), 'utf8'));
  } catch {
    return false; // removed meanwhile
  }
}

/**
 * Reserves `port` for `owner`; false when a live owner (this one included) holds it.
 * Each reservation is a file named for its owner in the port's own directory: an owner
 * first writes its file, then looks at the others; a live one makes it take its file
 * back (two at once both back off), dead ones are removed. So no two live owners ever
 * both hold a port.
 */
export function reservePort(directory: string, port: number, owner: PortOwner = { pid: process.pid }): boolean {
  const portDirectory = join(directory, String(port));
  const mine = ownerFile(owner);
  try {
    // A plain file there is a reservation of an earlier format: it no longer counts.
    if (existsSync(portDirectory) && !statSync(portDirectory).isDirectory()) rmSync(portDirectory, { force: true });
    mkdirSync(portDirectory, { recursive: true, mode: 0o1777 });
    if (existsSync(join(portDirectory, mine.name))) return false;
    writeFileSync(join(portDirectory, mine.name), mine.content);
    for (const name of readdirSync(portDirectory)) {
      if (name === mine.name) continue;
      if (ownerAlive(portDirectory, name)) {
        rmSync(join(portDirectory, mine.name), { force: true });
        return false;
      }
      rmSync(join(portDirectory, name), { force: true });
    }
    return true;
  } catch (error) {
    // A directory this user may not write: binding the port is the only check left.
    if ((error as NodeJS.ErrnoException).code === 'EACCES' || (error as NodeJS.ErrnoException).code === 'EPERM') return true;
    throw error;
  }
}

export interface FreePortsOptions {
  /** Directory of port reservations shared by the host's processes; default `<tmpdir>/atoll-ports`. */
  readonly reservationDirectory?: string;
  /** Who the ports are reserved for; default this process. */
  readonly owner?: PortOwner;
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
        if (!reservePort(reservationDirectory, bound, options.owner)) continue;
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
