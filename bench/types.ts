import type { MachineInfo } from './lib/machine.ts';

/**
 * The contract every benchmark module follows, so that `bench/run.ts` can run, chart and
 * summarise any of them. A benchmark lives in `bench/<name>/index.ts` and exports
 * `run`, `chart`, `summary` and `describe`; `bench/benchmarks.ts` lists them. Its `run` returns
 * its own figures and config; the envelope every result starts with (name, smoke, timings,
 * machine) is added by the runner (`runBenchmark`, bench/runBenchmark.ts), nowhere else.
 */

/** Options every benchmark's `run` takes. */
export interface RunOptions {
  /**
   * Tiny mode for the test suite: a few clients for a second or two, finishes in < 20 s,
   * and its numbers are only checked for sanity (never against timing thresholds).
   */
  smoke: boolean;
  /** Progress lines (the runner prints them on stderr); default: silent. */
  log?: ((line: string) => void) | undefined;
  /** Length of a benchmark that runs for a set time (the soak), from `--minutes N`; default: its own. */
  minutes?: number | undefined;
}

/**
 * The figures of `bench/results/latest.json`. A key is null until its benchmark exists
 * (or when a run could not measure it); every number of one file comes from one run.
 */
export interface LatestFigures {
  fanout: {
    /** Viewers served per core of mediasoup worker CPU, at Spyglass's highest step with loss ≤ 1 %. */
    viewersPerCore: number | null;
    /** Spyglass's viewers (= packets) per core of worker CPU ÷ raw mediasoup's, over the steps both kept loss ≤ 1 %. */
    ratioVsRawMediasoup: number | null;
  };
  /** `heapPerWatchingViewerKiB`: the signalling server's Node heap per viewer that joined with its transport and consumers (after a full GC). */
  join: { p50Ms: number | null; p99Ms: number | null; heapPerWatchingViewerKiB?: number | null };
  latency: { p50Ms: number | null; p95Ms: number | null; floorP95Ms: number | null };
  ttff: {
    /** Spyglass's time to first frame (viewer join → first presented frame), p95 and p50. */
    p95Ms: number | null;
    p50Ms?: number | null;
    /** The same joins against raw mediasoup, p95. */
    rawP95Ms?: number | null;
  };
  recording: {
    /** Frames sent in steady state (from the first recorded keyframe to the end) missing from the replay, over the broadcasts (VP8 1 and 10 min, H.264 10 min). */
    framesLost: number | null;
    /** Broadcast end (`broadcast:stop`) → replay watchable (`preview`: the WebM, or for H.264 the MP4 with Opus), worst of the broadcasts. */
    previewReadyMs: number | null;
    /** Broadcast end → replay `ready` (MP4 and HLS), worst of the broadcasts. */
    replayReadyMs: number | null;
    /** Broadcast end → replay `ready` for the H.264 broadcast (10 min; the MP4 is a remux). */
    h264ReadyMs?: number | null;
    /** Finalize alone over the longest synthetic recording (an hour in a full run): its seconds and the worst time to the preview, VP8 (WebM) and H.264 (MP4 with Opus). */
    longestFinalizePreview?: { seconds: number; vp8Ms: number | null; h264Ms: number | null } | null;
  };
  archive: { ratioVsCp: number | null };
  /** Many hosts: a broadcast relayed from its origin node to an edge node over a pipe (docs/scale.md). */
  cascade: {
    /** The origin worker's CPU for one more pipe to an edge ÷ for one more viewer. */
    pipeVsViewerCpu: number | null;
    /** Viewers per core of an edge worker fed by one pipe, and that ÷ viewers per core of the origin worker. */
    edgeViewersPerCore: number | null;
    edgeVsOriginViewersPerCore: number | null;
    /** Join → first RTP packet, medians: on an edge node with no relay of the broadcast yet, with its relay open, on the origin node. */
    ttffColdEdgeMs: number | null;
    ttffWarmEdgeMs: number | null;
    ttffOriginMs: number | null;
    /** RTP transit sender → viewer on loopback, p50 and p95: viewer on the origin node, viewer on an edge node. */
    transitOriginP50Ms: number | null;
    transitOriginP95Ms: number | null;
    transitEdgeP50Ms: number | null;
    transitEdgeP95Ms: number | null;
    /** Glass-to-glass in Chromium (stamped canvas → presented frame), p50 and p95: viewer page on the origin node, on an edge node; and edge ÷ origin node. */
    glassOneNodeP50Ms: number | null;
    glassOneNodeP95Ms: number | null;
    glassEdgeP50Ms: number | null;
    glassEdgeP95Ms: number | null;
    glassEdgeVsOneNodeP50: number | null;
    glassEdgeVsOneNodeP95: number | null;
  };
  /** Going live from an encoder (docs/ingest.md): glass-to-glass p50 and time to first frame p95 by source, one viewer in Chromium. */
  ingest: {
    glassBrowserP50Ms: number | null;
    glassWhipP50Ms: number | null;
    glassRtmpP50Ms: number | null;
    ttffBrowserP95Ms: number | null;
    ttffWhipP95Ms: number | null;
    ttffRtmpP95Ms: number | null;
  };
}

/** What a benchmark module exports (checked by the registry in bench/benchmarks.ts). */
export interface BenchmarkModule<R extends BenchResult = BenchResult> {
  /** Measures; returns the result without its envelope (see {@link BenchBody}). */
  run(opts: RunOptions): Promise<BenchBody<R>>;
  /** A self-contained SVG document of the result. */
  chart(result: R): string;
  /** This benchmark's keys of latest.json. */
  summary(result: R): Partial<LatestFigures>;
  /** A few human-readable lines (console and README). */
  describe(result: R): string[];
}

/**
 * The envelope every result object starts with, written by the runner around what the
 * benchmark's `run` returned: its name, smoke or full, when it started and how long it took,
 * the machine (read before the benchmark pins anything: a pinned process sees one core), and
 * the benchmark's config (which `run` returns, as only it knows it).
 */
export interface BenchResult<B extends string = string, C = unknown> {
  benchmark: B;
  smoke: boolean;
  startedAt: string;
  durationMs: number;
  machine: MachineInfo;
  config: C;
}

/** The fields of the envelope that the runner adds. */
export type EnvelopeField = 'benchmark' | 'smoke' | 'startedAt' | 'durationMs' | 'machine';

/** What a benchmark's `run` returns: its result without the runner's part of the envelope. */
export type BenchBody<R extends BenchResult> = Omit<R, EnvelopeField>;

export function emptyLatestFigures(): LatestFigures {
  return {
    fanout: { viewersPerCore: null, ratioVsRawMediasoup: null },
    join: { p50Ms: null, p99Ms: null, heapPerWatchingViewerKiB: null },
    latency: { p50Ms: null, p95Ms: null, floorP95Ms: null },
    ttff: { p95Ms: null, p50Ms: null, rawP95Ms: null },
    recording: { framesLost: null, previewReadyMs: null, replayReadyMs: null, h264ReadyMs: null },
    archive: { ratioVsCp: null },
    cascade: {
      pipeVsViewerCpu: null,
      edgeViewersPerCore: null,
      edgeVsOriginViewersPerCore: null,
      ttffColdEdgeMs: null,
      ttffWarmEdgeMs: null,
      ttffOriginMs: null,
      transitOriginP50Ms: null,
      transitOriginP95Ms: null,
      transitEdgeP50Ms: null,
      transitEdgeP95Ms: null,
      glassOneNodeP50Ms: null,
      glassOneNodeP95Ms: null,
      glassEdgeP50Ms: null,
      glassEdgeP95Ms: null,
      glassEdgeVsOneNodeP50: null,
      glassEdgeVsOneNodeP95: null,
    },
    ingest: { glassBrowserP50Ms: null, glassWhipP50Ms: null, glassRtmpP50Ms: null, ttffBrowserP95Ms: null, ttffWhipP95Ms: null, ttffRtmpP95Ms: null },
  };
}
