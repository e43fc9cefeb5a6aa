import type { Queue } from 'bullmq';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createRegistry } from '../../common/metrics/commonMetrics.ts';
import type { PipeTraffic } from '../../sfu/OriginPipe.ts';
import type { WorkerPool } from '../../sfu/WorkerPool.ts';

export interface NodeMetricsDeps {
  dataDir: string;
  pool: WorkerPool;
  /** socket.io connections on this node. */
  connections: () => number;
  /** Broadcasts live or reconnecting (the database's count: every node's). */
  liveBroadcasts: () => Promise<number>;
  queues: () => readonly Queue[];
  /** Join-to-first-frame times reported by viewers' pages (firstFrameHistogram), registered here. */
  firstFrames?: Histogram<'served'>;
  /** Several nodes: live nodes, pipes this node feeds (count and traffic by edge node), and the relays it is fed through. */
  cluster?: {
    liveNodes(): Promise<number>;
    pipesByNode(): Map<string, number>;
    pipeTrafficByNode(): Promise<Map<string, PipeTraffic>>;
    relays(): number;
  };
}

/**
 * The metrics of a signalling + SFU node: its mediasoup workers (CPU from
 * getResourceUsage, routers, transports, producers and consumers by kind, pipe consumers),
 * socket.io connections, live broadcasts and, on several nodes, pipes and relays, on top of the common ones (commonMetrics.ts).
 */
export function createNodeMetrics(d: NodeMetricsDeps): Registry {
  const registry = createRegistry({ process: 'signaling', dataDir: d.dataDir, queues: d.queues });
  if (d.firstFrames) registry.registerMetric(d.firstFrames);
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
    new Gauge({
      name: 'spyglass_cluster_nodes',
      help: 'nodes of the deployment whose heartbeat is current (the registry in Redis)',
      registers,
      async collect() {
        this.set(await cluster.liveNodes().catch(() => Number.NaN));
      },
    });
    // Totals of the pipes open now, each since it opened: they fall when a pipe closes, so gauges.
    const traffic: Array<[keyof PipeTraffic, string, string]> = [
      ['bytes', 'spyglass_cluster_pipe_sent_bytes', 'bytes sent to each edge node over the pipes open now, since each opened'],
      ['packets', 'spyglass_cluster_pipe_sent_packets', 'RTP packets sent to each edge node over the pipes open now, since each opened'],
      ['nacks', 'spyglass_cluster_pipe_nacks', 'NACKs received from each edge node over the pipes open now (loss repaired by RTX)'],
      ['keyFrameRequests', 'spyglass_cluster_pipe_keyframe_requests', 'key-frame requests (PLI, FIR) received from each edge node over the pipes open now'],
    ];
    // One stats pass serves the four gauges of a scrape: kept for a second.
    let read: { at: number; byNode: Promise<Map<string, PipeTraffic>> } | undefined;
    const byNode = () => {
      if (!read || performance.now() - read.at > 1000) read = { at: performance.now(), byNode: cluster.pipeTrafficByNode() };
      return read.byNode;
    };
    for (const [key, name, help] of traffic) {
      new Gauge({
        name,
        help,
        labelNames: ['edge_node'],
        registers,
        async collect() {
          this.reset();
          for (const [node, t] of await byNode()) this.set({ edge_node: node }, t[key]);
        },
      });
    }
  }
  return registry;
}

/**
 * Join-to-first-frame, as viewers' pages report it (`stats:first-frame`): from the start of a
 * join to the first video frame presented, by where the viewer is served (`origin` node or a
 * `relay`). Made before the live domain, which observes it, and registered by createNodeMetrics.
 */
export function firstFrameHistogram(): Histogram<'served'> {
  return new Histogram({
    name: 'spyglass_join_first_frame_seconds',
    help: 'time from the start of a join to the first video frame the viewer’s page presented, as the page reports it',
    labelNames: ['served'],
    buckets: [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30],
    registers: [],
  });
}
