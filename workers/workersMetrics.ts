import type { Queue } from 'bullmq';
import { Counter, Gauge, type Registry } from 'prom-client';
import { createRegistry } from '../common/metrics/commonMetrics.ts';
import type { RecorderStats } from './record/RecorderStats.ts';

/**
 * The metrics of a workers process: the common ones (commonMetrics.ts: Node, free disk, queue
 * counts), the jobs this process is running, by queue (recordings in progress are
 * `queue="record"`), and what its recorders stored and how their runs ended.
 */
export function workersMetrics(o: { dataDir: string; queues: readonly Queue[]; running: ReadonlyMap<string, number>; recorders: RecorderStats }): Registry {
  const registry = createRegistry({ process: 'workers', dataDir: o.dataDir, queues: () => o.queues });
  new Gauge({
    name: 'spyglass_jobs_running',
    help: 'Jobs this workers process is running, by queue',
    labelNames: ['queue'],
    registers: [registry],
    collect() {
      for (const [queue, n] of o.running) this.set({ queue }, n);
    },
  });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter('spyglass_recording_segments_stored_total', 'Recording segments stored (uploaded and checked on S3) by this process', () => o.recorders.segmentsStored);
  counter('spyglass_recording_stored_bytes_total', 'Bytes of recording segments stored by this process', () => o.recorders.bytesStored);
  counter('spyglass_recording_segment_store_failures_total', 'Attempts to store a recording segment that failed (each is tried again)', () => o.recorders.segmentStoreFailures);
  new Counter({
    name: 'spyglass_recording_runs_ended_total',
    help: 'Recorder runs ended, by outcome: next-run is a gap in the recording until the next run starts (the SFU died, the tracks changed, ffmpeg exited)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [outcome, n] of o.recorders.runsEnded) this.inc({ outcome }, n);
    },
  });
  return registry;
}
