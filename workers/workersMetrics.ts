import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import { createRegistry } from '../common/metrics/commonMetrics.ts';

/**
 * The metrics of a workers process: the common ones (commonMetrics.ts: Node, free disk, queue
 * counts) and the jobs this process is running, by queue (recordings in progress are
 * `queue="record"`).
 */
export function workersMetrics(o: { dataDir: string; queues: readonly Queue[]; running: ReadonlyMap<string, number> }): Registry {
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
  return registry;
}
