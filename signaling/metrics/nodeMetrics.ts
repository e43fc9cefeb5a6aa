import type { Queue } from 'bullmq';
import { Counter, Gauge, type Registry } from 'prom-client';
import { createRegistry } from '../../common/metrics/commonMetrics.ts';
import type { WorkerPool } from '../../sfu/WorkerPool.ts';

export interface NodeMetricsDeps {
  dataDir: string;
  pool: WorkerPool;
  /** socket.io connections on this node. */
  connections: () => number;
  /** Broadcasts live or reconnecting (the database's count: every node's). */
  liveBroadcasts: () => Promise<number>;
  queues: () => readonly Queue[];
  /** Several nodes: pipes this node feeds, by edge node, and the relays it is fed through. */
  cluster?: { pipesByNode(): Map<string, number>; relays(): number };
}

/**
 * The metrics of a signalling + SFU node: its mediasoup workers (CPU from
 * getResourceUsage, routers, transports, producers and consumers by kind, pipe consumers),
 * socket.io connections, live broadcasts and, on several nodes, pipes and relays, on top of the common ones (commonMetrics.ts).
 */
export function createNodeMetrics(d: NodeMetricsDeps): Registry {
  const registry = createRegistry({ process: 'signaling', dataDir: d.dataDir, queues: d.queues });
  const registers = [registry];
  const workers = () => d.pool.workers.filter((w) => w.alive);
  new Gauge({
    name: 'spyglass_media_workers',
    help: 'mediasoup workers running',
    registers,
    collect() {
      this.set(workers().length);
    },
  });
  new Counter({
    name: 'spyglass_media_worker_cpu_seconds_total',
    help: 'CPU time (user + system) of each mediasoup worker since it started',
    labelNames: ['worker'],
    registers,
    async collect() {
      this.reset();
      for (const w of workers()) {
        const usage = await w.worker.getResourceUsage().catch(() => undefined);
        if (usage) this.inc({ worker: String(w.index) }, (usage.ru_utime + usage.ru_stime) / 1000);
      }
    },
  });
  const media = (name: string, help: string, labelNames: string[], read: (g: Gauge) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        read(this);
      },
    });
  media('spyglass_media_routers', 'mediasoup routers', ['worker'], (g) => {
    for (const w of workers()) g.set({ worker: String(w.index) }, w.routerCount);
  });
  media('spyglass_media_transports', 'mediasoup transports (WebRTC, plain, pipe)', ['worker'], (g) => {
    for (const w of workers()) g.set({ worker: String(w.index) }, w.counts.transports);
  });
  media('spyglass_media_producers', 'mediasoup producers by kind', ['worker', 'kind'], (g) => {
    for (const w of workers()) for (const [kind, n] of Object.entries(w.counts.producers)) g.set({ worker: String(w.index), kind }, n);
  });
  media('spyglass_media_consumers', 'mediasoup consumers by kind (viewer) and pipe consumers (kind="pipe")', ['worker', 'kind'], (g) => {
    for (const w of workers()) {
      const c = w.counts;
      for (const [kind, n] of Object.entries(c.consumers)) g.set({ worker: String(w.index), kind }, n);
      g.set({ worker: String(w.index), kind: 'pipe' }, c.pipeConsumers);
    }
  });
  new Gauge({
    name: 'spyglass_socket_connections',
    help: 'socket.io connections on this node',
    registers,
    collect() {
      this.set(d.connections());
    },
  });
  new Gauge({
    name: 'spyglass_live_broadcasts',
    help: 'Broadcasts live or reconnecting (all nodes)',
    registers,
    async collect() {
      this.set(await d.liveBroadcasts());
    },
  });
  const cluster = d.cluster;
  if (cluster) {
    media('spyglass_cluster_pipes', 'pipes this node (as origin) feeds, by edge node', ['edge_node'], (g) => {
      for (const [node, n] of cluster.pipesByNode()) g.set({ edge_node: node }, n);
    });
    media('spyglass_cluster_relays', 'broadcasts this node serves through a pipe from their origin', [], (g) => g.set(cluster.relays()));
  }
  return registry;
}
