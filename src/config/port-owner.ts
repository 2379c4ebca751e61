// Who holds a listening TCP port, so a refused start can name the other instance instead
// of only "in use". Linux only (it reads /proc); elsewhere, or when the owner belongs to
// another user, the answer is undefined and the message stays as it was.
//
// The way there: /proc/net/tcp and tcp6 list listening sockets with their inode; the
// process holding `socket:[inode]` among its /proc/<pid>/fd is the owner. An AtollFS
// instance holds its data directory's LOCK open while it runs, and the LOCK names it
// (instance, role, config file, pid), so an open LOCK of the owner's pid says which
// instance it is, however it was started (the atoll command, a launcher, a test).

import { lookup } from 'node:dns/promises';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { lockFileName, readLockHolder } from './data-dir-lock.js';
import { portOwnerFdsMax, portOwnerProcessesMax } from './limits.js';

export interface PortOwner {
  readonly pid: number;
  /** The owner's command line, joined with spaces (at most 200 characters). */
  readonly command: string;
  /** Set when the owner is an AtollFS server instance. */
  readonly atoll?: { readonly instance: string; readonly role: string; readonly configFile?: string };
}

const commandShownChars = 200;

/**
 * An address of /proc/net/tcp{,6} as text: IPv4 is one little-endian 32-bit word
 * (`0100007F` is 127.0.0.1), IPv6 four of them; an IPv4-mapped IPv6 address is given
 * as its IPv4 address.
 */
export function procAddressText(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((word) => [6, 4, 2, 0].map((at) => Number.parseInt(word.slice(at, at + 2), 16)));
  if (bytes.length === 4) return bytes.join('.');
  const mapped = bytes.slice(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) groups.push(((bytes[index]! << 8) | bytes[index + 1]!).toString(16));
  // RFC 5952: the longest run of two or more zero groups (the first of equals) becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === '0') length++;
    if (length > bestLength) [bestStart, bestLength] = [start, length];
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}

const wildcardAddresses = new Set(['0.0.0.0', '::']);

/**
 * Inodes of sockets listening on `port`, from /proc/net/tcp{,6} text, on one of
 * `addresses` or on a wildcard address (which also holds the port on every address).
 */
export function listeningSocketInodes(procNetTcpText: string, port: number, addresses: ReadonlySet<string>): number[] {
  const inodes: number[] = [];
  for (const line of procNetTcpText.split('\n').slice(1)) {
    const columns = line.trim().split(/\s+/);
    if (columns.length < 10) continue;
    const local = columns[1]!;
    const state = columns[3]!;
    if (state !== '0A') continue; // TCP_LISTEN
    const colon = local.lastIndexOf(':');
    if (Number.parseInt(local.slice(colon + 1), 16) !== port) continue;
    const address = procAddressText(local.slice(0, colon));
    if (!addresses.has(address) && !wildcardAddresses.has(address)) continue;
    const inode = Number(columns[9]);
    if (Number.isSafeInteger(inode) && inode > 0) inodes.push(inode);
  }
  return inodes;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function fdTargets(pid: number): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const targets: string[] = [];
  for (const name of names.slice(0, portOwnerFdsMax)) {
    try {
      targets.push(await readlink(`/proc/${pid}/fd/${name}`));
    } catch {
      // closed meanwhile
    }
  }
  return targets;
}

async function findSocketHolder(inodes: readonly number[]): Promise<number | undefined> {
  const wanted = new Set(inodes.map((inode) => `socket:[${inode}]`));
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const pids = entries.filter((name) => /^\d+$/.test(name)).map(Number).slice(0, portOwnerProcessesMax);
  for (const pid of pids) {
    for (const target of await fdTargets(pid)) if (wanted.has(target)) return pid;
  }
  return undefined;
}

async function atollInstanceOf(pid: number): Promise<PortOwner['atoll'] | undefined> {
  for (const target of await fdTargets(pid)) {
    if (!target.startsWith('/') || basename(target) !== lockFileName) continue;
    const holder = await readLockHolder(target);
    if (holder === undefined || holder.pid !== pid || holder.instance === undefined || holder.role === undefined) continue;
    return { instance: holder.instance, role: holder.role, ...(holder.configFile === undefined ? {} : { configFile: holder.configFile }) };
  }
  return undefined;
}

/**
 * The process listening on TCP `port` of `host` (a name or an address), or undefined
 * when it cannot be told (not Linux, the owner is another user's process, or it closed
 * meanwhile).
 */
export async function findPortOwner(host: string, port: number): Promise<PortOwner | undefined> {
  const resolved = await lookup(host, { all: true }).catch(() => []);
  const addresses = new Set(resolved.map((entry) => entry.address));
  const tables = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map(readText));
  const inodes = tables.flatMap((text) => (text === undefined ? [] : listeningSocketInodes(text, port, addresses)));
  if (inodes.length === 0) return undefined;
  const pid = await findSocketHolder(inodes);
  if (pid === undefined) return undefined;
  const argv = ((await readText(`/proc/${pid}/cmdline`)) ?? '').split('\0').filter((part) => part.length > 0);
  const command = argv.join(' ').slice(0, commandShownChars);
  const atoll = await atollInstanceOf(pid);
  return { pid, command, ...(atoll === undefined ? {} : { atoll }) };
}

/** "instance metanode-1 (metanode, config /etc/atoll/m1.toml; pid 42)" or "pid 42 (nc -l 80)". */
export function describePortOwner(owner: PortOwner): string {
  if (owner.atoll === undefined) return `pid ${owner.pid}${owner.command.length > 0 ? ` (${owner.command})` : ''}`;
  const { instance, role, configFile } = owner.atoll;
  return `instance ${instance} (${role}${configFile === undefined ? '' : `, config ${configFile}`}; pid ${owner.pid})`;
}
