import { machineInfo, type MachineInfo } from './lib/machine.ts';
import type { BenchmarkModule, BenchResult, RunOptions } from './types.ts';

/**
 * Runs one benchmark and writes the envelope every result starts with — its name, smoke or
 * full, when it started, how long it took, the machine — around what its `run` returned (its
 * config and figures). The only place that writes it: `bench/run.ts` runs every benchmark
 * through here, and so do the smoke tests (test/bench/). (A module of its own because
 * bench/run.ts is the command line, which runs when imported.)
 * @param machine the machine as read before the run began (default: read now, before the
 *   benchmark pins anything: a pinned process sees one core).
 */
export async function runBenchmark<R extends BenchResult>(name: R['benchmark'], bench: BenchmarkModule<R>, opts: RunOptions, machine: MachineInfo = machineInfo()): Promise<R> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const body = await bench.run(opts);
  const envelope = { benchmark: name, smoke: opts.smoke, startedAt, durationMs: Math.round(performance.now() - t0), machine };
  // The body is R without the envelope's fields (BenchBody<R>); TypeScript cannot see that the two make R.
  return { ...envelope, ...body } as unknown as R;
}
