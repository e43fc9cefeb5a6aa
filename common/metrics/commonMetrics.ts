import type { Queue } from 'bullmq';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { freeMb } from '../disk.ts';

/**
 * The metrics every Spyglass process exposes (prom-client): Node's own (CPU, memory, event
 * loop, prefixed `spyglass_process_`/`spyglass_nodejs_`), free disk under the data directory,
 * and the job counts of the BullMQ queues it uses. Everything is read when scraped: nothing
 * is counted on the hot path. No label names a user or a broadcast.
 */
export function createRegistry(o: { process: string; dataDir: string; queues: () => readonly Queue[] }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: o.process });
  collectDefaultMetrics({ register: registry, prefix: 'spyglass_' });
  new Gauge({
    name: 'spyglass_disk_free_bytes',
    help: 'Free space on the file system of the data directory',
    registers: [registry],
    async collect() {
      this.set((await freeMb(o.dataDir)) * 1024 * 1024);
    },
  });
  new Gauge({
    name: 'spyglass_queue_jobs',
    help: 'BullMQ jobs by queue and state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of o.queues()) {
        const counts = await q.getJobCounts('active', 'waiting', 'delayed', 'failed', 'completed', 'waiting-children', 'prioritized');
        for (const [state, n] of Object.entries(counts)) this.set({ queue: q.name, state }, n);
      }
    },
  });
  return registry;
}
