import * as fanout from './fanout/index.ts';
import * as join from './join/index.ts';
import * as latency from './latency/index.ts';
import * as ttff from './ttff/index.ts';
import * as archive from './archive/index.ts';
import * as cascade from './cascade/index.ts';
import * as recording from './recording/index.ts';
import * as soak from './soak/index.ts';
import * as ingest from './ingest/index.ts';
import type { BenchmarkModule, BenchResult } from './types.ts';

/** Checks a module against the contract, then forgets its result type (the runner only passes results back). */
function entry<R extends BenchResult>(m: BenchmarkModule<R>): BenchmarkModule {
  return m;
}

/**
 * Every benchmark, in the order `npm run bench` runs them. A new one is a module under
 * bench/<name>/ exporting run/chart/summary/describe (see types.ts), an entry here, a
 * `bench:<name>` script in package.json and a smoke test in test/bench/.
 */
export const BENCHMARKS = {
  fanout: entry<fanout.FanoutResult>(fanout),
  join: entry<join.JoinResult>(join),
  latency: entry<latency.LatencyResult>(latency),
  ttff: entry<ttff.TtffResult>(ttff),
  recording: entry<recording.RecordingResult>(recording),
  archive: entry<archive.ArchiveResult>(archive),
  cascade: entry<cascade.CascadeResult>(cascade),
  ingest: entry<ingest.IngestResult>(ingest),
  soak: entry<soak.SoakResult>(soak),
};

/** Benchmarks that `npm run bench` (no names) leaves out: they run for an hour, on request only. */
export const ON_REQUEST_ONLY: ReadonlySet<BenchmarkName> = new Set(['soak']);

export type BenchmarkName = keyof typeof BENCHMARKS;

export function isBenchmarkName(name: string): name is BenchmarkName {
  return Object.hasOwn(BENCHMARKS, name);
}
