// CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (Linux):
// bench:raft reports where the CPU goes, since the replicas share the machine's cores.
// NaN where /proc is not available.
import { readFile } from 'node:fs/promises';

// Clock ticks per second of utime and stime; 100 on every Linux this runs on
// (`getconf CLK_TCK`), and Node offers no way to ask.
const clockTicksPerSecond = 100;

export async function processCpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its ')' are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the name.
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
  } catch {
    return Number.NaN;
  }
}

// CPU seconds the whole machine has been busy (all cores: user, nice, system, irq,
// softirq, steal), from the first line of /proc/stat; NaN where it is not available.
// Minus what the benchmark's processes used, it shows how busy the neighbours were.
export async function machineBusyCpuSeconds(): Promise<number> {
  try {
    const stat = await readFile('/proc/stat', 'utf8');
    const fields = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return (user + nice + system + irq + softirq + steal) / clockTicksPerSecond;
  } catch {
    return Number.NaN;
  }
}

// Read- and write-family system calls a process (all its threads) has made so far
// (syscr + syscw of /proc/<pid>/io: socket and file reads and writes, not fdatasync);
// NaN where it is not available. Unlike CPU time it does not grow when the machine is
// busy, so it compares runs on a shared machine.
export async function processIoSyscalls(pid: number): Promise<number> {
  try {
    const io = await readFile(`/proc/${pid}/io`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? Number.NaN);
    return field('syscr') + field('syscw');
  } catch {
    return Number.NaN;
  }
}
