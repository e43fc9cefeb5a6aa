import { execFileSync } from 'node:child_process';
import os from 'node:os';

/**
 * CPU pinning for the fan-out benchmark. On a small machine the load generator (UDP sinks,
 * ffmpeg, the bench process) shares the cores with the SFU. Loopback delivery runs in the
 * sender's system calls, including waking the receiving process, which is cheap when the
 * receiver sleeps on the same core and expensive (an inter-processor interrupt, a VM exit on
 * a virtual machine) when it sleeps on another. Left to the scheduler, the SFU's cost per
 * packet flips between the two by ~30 % during a run. Pinned — SFU workers on their own cores,
 * the load generator on the last one — it always pays the cross-core price.
 */
export interface CpuPlan {
  /** The core of SFU worker `index`. */
  worker(index: number): number;
  /** The core of the load generator. */
  load: number;
}

/** The plan for this machine; null with one core or without `taskset`. */
export function cpuPlan(): CpuPlan | null {
  const cores = os.availableParallelism();
  if (cores < 2 || !hasTaskset()) return null;
  // With as many workers as cores, the last worker shares the load generator's core.
  return { worker: (index) => index % cores, load: cores - 1 };
}

let taskset: boolean | undefined;

function hasTaskset(): boolean {
  if (taskset === undefined) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      taskset = true;
    } catch {
      taskset = false;
    }
  }
  return taskset;
}

/** Pins every thread of `pid` to `cpu`; false if that failed (the process may be gone). */
export function pin(pid: number, cpu: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Lets every thread of `pid` run on any core again. */
export function unpin(pid: number): void {
  try {
    // Not availableParallelism(): that counts the cores this (pinned) process may use.
    execFileSync('taskset', ['-a', '-p', '-c', `0-${os.cpus().length - 1}`, String(pid)], { stdio: 'ignore' });
  } catch {
    // Gone already.
  }
}
