import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The process tree of a running `npm start` (scripts/start.ts), read from /proc: the
 * supervisor's signalling and workers processes, the signalling process's mediasoup workers
 * and the workers process's ffmpeg children. Readers return null when a process is gone.
 */

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Every process whose parent is `ppid`. */
export function childrenOf(ppid: number): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    if (!stat) continue;
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const parent = Number(stat.slice(close + 2).split(' ')[1]);
    if (parent !== ppid) continue;
    out.push({ pid: Number(name), ppid: parent, comm, cmdline: (read(`/proc/${name}/cmdline`) ?? '').split('\0').join(' ').trim() });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** Open file descriptors of a process (entries of /proc/<pid>/fd). */
export function openFds(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** What the fds of a process point at, by kind (socket, pipe, anon_inode, file), for a leak's first look. */
export function fdKinds(pid: number): Record<string, number> | null {
  try {
    const kinds: Record<string, number> = {};
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const kind = /^(socket|pipe|anon_inode):/.exec(target)?.[1] ?? 'file';
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
    return kinds;
  } catch {
    return null;
  }
}

/** The processes of one `npm start`, by role: `signaling`, `workers`, `mediasoup-<n>` (by pid order), `ffmpeg-<n>`. */
export function spyglassProcesses(supervisorPid: number): Map<string, number> {
  const roles = new Map<string, number>();
  const kids = childrenOf(supervisorPid);
  const signaling = kids.find((p) => p.cmdline.includes('signaling/main.ts'));
  const workers = kids.find((p) => p.cmdline.includes('workers/main.ts'));
  if (signaling) {
    roles.set('signaling', signaling.pid);
    childrenOf(signaling.pid)
      .filter((p) => p.comm.startsWith('mediasoup-work'))
      .forEach((p, i) => roles.set(`mediasoup-${i}`, p.pid));
  }
  if (workers) {
    roles.set('workers', workers.pid);
    childrenOf(workers.pid)
      .filter((p) => p.comm === 'ffmpeg')
      .forEach((p, i) => roles.set(`ffmpeg-${i}`, p.pid));
  }
  return roles;
}
