import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU and memory readings from Linux's /proc (the benchmarks' machines). Every reader returns
 * null where /proc is missing or the process is gone, so a benchmark degrades to "not
 * measured" instead of failing.
 */

let clockTicks: number | undefined;

/** Kernel clock ticks per second (USER_HZ), what /proc counts CPU time in. */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used so far. */
export function processCpuSeconds(pid: number): number | null {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of stat(5), i.e. indexes 11 and 12 after the name.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return (utime + stime) / clockTicksPerSecond();
}

/** Resident set size of a process in bytes (VmRSS). */
export function processRssBytes(pid: number): number | null {
  const status = read(`/proc/${pid}/status`);
  const kb = status && /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : null;
}

/** Whole-machine CPU counters: busy and total ticks over all cores. */
export function machineCpuTicks(): { busy: number; total: number } | null {
  const stat = read('/proc/stat');
  const line = stat?.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest* are already in user/nice).
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** One core's counters from /proc/stat, in ticks: busy (user … softirq, steal excluded), steal, and total. */
export function coreCpuTicks(cpu: number): { busy: number; steal: number; total: number } | null {
  const stat = read('/proc/stat');
  const line = stat?.split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const steal = v[7] ?? 0;
  return { busy: total - idle - steal, steal, total };
}

/**
 * Datagrams dropped so far on the UDP sockets bound to these local ports on 127.0.0.1 (the
 * `drops` column of /proc/net/udp: receive buffer full); null without /proc.
 */
export function udpSocketDrops(ports: readonly number[]): number | null {
  const table = read('/proc/net/udp');
  if (table === null) return null;
  const wanted = new Set(ports.map((p) => `0100007F:${p.toString(16).toUpperCase().padStart(4, '0')}`));
  let drops = 0;
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 13 && wanted.has(f[1]!)) drops += Number(f[f.length - 1]) || 0;
  }
  return drops;
}

/** UDP counters of the kernel (machine-wide): datagrams dropped because a socket's receive buffer was full. */
export function udpReceiveErrors(): { rcvbufErrors: number; inErrors: number } | null {
  const snmp = read('/proc/net/snmp');
  if (!snmp) return null;
  const lines = snmp.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]?.split(/\s+/).slice(1);
  const values = lines[1]?.split(/\s+/).slice(1).map(Number);
  if (!names || !values) return null;
  const get = (name: string) => values[names.indexOf(name)] ?? 0;
  return { rcvbufErrors: get('RcvbufErrors'), inErrors: get('InErrors') };
}

/**
 * Measures CPU over a window: call {@link CpuWindow.start} and later {@link CpuWindow.stop},
 * which returns the cores each watched process used (1.0 = one core busy all the time), the
 * whole machine's busy fraction, and the bench process's own cores.
 */
export class CpuWindow {
  readonly #pids: ReadonlyMap<string, number>;
  #t0 = 0;
  #proc0 = new Map<string, number | null>();
  #machine0: { busy: number; total: number } | null = null;
  #self0: NodeJS.CpuUsage | undefined;

  /** @param pids processes to watch, by a name of your choice. */
  constructor(pids: ReadonlyMap<string, number>) {
    this.#pids = pids;
  }

  start(): void {
    this.#t0 = performance.now();
    this.#proc0 = new Map([...this.#pids].map(([name, pid]) => [name, processCpuSeconds(pid)]));
    this.#machine0 = machineCpuTicks();
    this.#self0 = process.cpuUsage();
  }

  stop(): CpuReading {
    const seconds = (performance.now() - this.#t0) / 1000;
    const processes: Record<string, number | null> = {};
    for (const [name, pid] of this.#pids) {
      const before = this.#proc0.get(name);
      const after = processCpuSeconds(pid);
      processes[name] = before != null && after != null ? round((after - before) / seconds, 3) : null;
    }
    const m1 = machineCpuTicks();
    const m0 = this.#machine0;
    const machineBusy = m0 && m1 && m1.total > m0.total ? round((m1.busy - m0.busy) / (m1.total - m0.total), 3) : null;
    const self = process.cpuUsage(this.#self0);
    return { seconds: round(seconds, 3), processes, machineBusy, benchProcess: round((self.user + self.system) / 1e6 / seconds, 3) };
  }
}

export interface CpuReading {
  seconds: number;
  /** Cores used by each watched process (null: not measurable). */
  processes: Record<string, number | null>;
  /** Busy fraction of all cores of the machine, 0..1. */
  machineBusy: number | null;
  /** Cores used by the bench process itself. */
  benchProcess: number;
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  // + 0: no -0 (it does not survive JSON).
  return Math.round(x * f) / f + 0;
}
