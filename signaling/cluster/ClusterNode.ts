import { once } from 'node:events';
import os from 'node:os';
import { Redis } from 'ioredis';
import { RedisBroadcastDirectory, type BroadcastDirectory } from '../../common/cluster/BroadcastDirectory.ts';
import { NodeRegistry } from '../../common/cluster/NodeRegistry.ts';
import type { NodeLoad } from '../../common/cluster/nodeSelection.ts';
import type { Config } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { RedisRpc } from '../../common/redisRpc.ts';
import type { Broadcast } from '../../sfu/Broadcast.ts';
import type { PipeTraffic } from '../../sfu/OriginPipe.ts';
import type { WorkerPool } from '../../sfu/WorkerPool.ts';
import type { Closers } from '../Closers.ts';
import type { Notifier, Recorder } from '../live/ports.ts';
import type { Stores } from '../store/index.ts';
import { EdgeRelays } from './EdgeRelays.ts';
import { JoinRedirects } from './JoinRedirects.ts';
import { NodeDrain, type ServedViewer } from './NodeDrain.ts';
import { OrphanSweeper } from './OrphanSweeper.ts';
import { PipeServer } from './PipeServer.ts';
import { RedisAbsence } from './RedisAbsence.ts';
import { RedisViewerTally } from './RedisViewerTally.ts';
import { WorkerCpu } from './WorkerCpu.ts';

/** How often pipes, relays and orphans are checked against the registry and the directory. */
const CHECK_MS = 1000;
/** Viewers a drain tells to move per second (each a join on another node). */
const DRAIN_MOVES_PER_SECOND = 100;
/** How long a node waits for another to answer a pipe request. */
const RPC_TIMEOUT_MS = 3000;
/** With several nodes, how often each adds up the viewer counts of what it serves. */
export const COUNT_REFRESH_MS = 1000;

export interface ClusterNodeOptions {
  config: Config;
  logger: Logger;
  pool: WorkerPool;
  notifier: Notifier;
  closers: Closers;
}

/** What the node serves once the live domain exists. */
export interface ClusterServeOptions {
  /** Where clients reach this node (for the registry, and the joins other nodes redirect here). */
  url: string;
  /** The media of a broadcast this node is the origin of. */
  originMedia: (id: BroadcastId) => Broadcast | undefined;
  stores: Stores;
  recorder: Recorder | undefined;
  /** The viewers this node serves (what a drain moves). */
  viewers: () => ServedViewer[];
}

/**
 * This process as one node of several (`cluster.enabled`; docs/scale.md): its id, its entry
 * in the node registry, the broadcast directory, the viewer tally, the relays of broadcasts
 * hosted elsewhere, the pipe server for its own broadcasts, and the sweeper that ends the
 * broadcasts of dead nodes. Built before the live domain (which takes the directory, the
 * tally and the relays), then {@link serve}d once the live domain and the URL exist.
 * Everything it opens is pushed onto the process's closers.
 */
export class ClusterNode {
  readonly nodeId: string;
  readonly directory: BroadcastDirectory;
  readonly tally: RedisViewerTally;
  readonly relays: EdgeRelays;
  readonly registry: NodeRegistry;
  /** Where joins go while this node is loaded (`cluster.maxConsumersPerWorker`). */
  readonly redirects: JoinRedirects;
  readonly #o: ClusterNodeOptions;
  readonly #rpc: RedisRpc;
  /** The last Redis outage any of this node's judges of other nodes saw. */
  readonly #redisAbsence: RedisAbsence;
  #pipes: PipeServer | undefined;
  #url: string | undefined;
  #cpu: WorkerCpu | undefined;

  private constructor(o: ClusterNodeOptions, nodeId: string, redis: Redis, rpc: RedisRpc) {
    const { config, logger } = o;
    this.#o = o;
    this.nodeId = nodeId;
    this.#rpc = rpc;
    this.#redisAbsence = new RedisAbsence(config.cluster.ttlMs);
    const prefix = config.queuePrefix;
    this.registry = new NodeRegistry({ redis, prefix, heartbeatMs: config.cluster.heartbeatMs, ttlMs: config.cluster.ttlMs, logger: logger.child({ component: 'nodes' }) });
    this.directory = new RedisBroadcastDirectory({ redis, prefix, ttlMs: config.cluster.ttlMs });
    this.tally = new RedisViewerTally({ redis, prefix, nodeId, entryTtlMs: 3 * COUNT_REFRESH_MS });
    this.redirects = new JoinRedirects({
      nodeId,
      url: () => this.#url,
      load: () => poolLoad(o.pool, this.#cpu),
      draining: () => this.registry.draining,
      nodes: () => this.registry.list(),
      maxConsumersPerWorker: config.cluster.maxConsumersPerWorker,
      logger: logger.child({ component: 'redirects' }),
    });
    this.relays = new EdgeRelays({
      rpc,
      queuePrefix: prefix,
      nodeId,
      directory: this.directory,
      nodes: () => this.registry.list(),
      redisAbsence: this.#redisAbsence,
      pool: o.pool,
      maxViewersPerRouter: config.mediasoup.maxViewersPerRouter,
      notifier: o.notifier,
      tally: this.tally,
      countRefreshMs: COUNT_REFRESH_MS,
      idleMs: config.cluster.relayIdleMs,
      checkMs: CHECK_MS,
      rpcTimeoutMs: RPC_TIMEOUT_MS,
      logger: logger.child({ component: 'relays' }),
    });
  }

  /** Connects to Redis and starts answering other nodes' pipe announcements. */
  static async open(o: ClusterNodeOptions): Promise<ClusterNode> {
    const { config, logger, closers } = o;
    const nodeId = config.cluster.nodeId ?? defaultNodeId(config.http.port);
    // No offline queue: while Redis is away, what needs it (a join that must find a broadcast's
    // origin, a heartbeat, a claim) fails at once with UNAVAILABLE and is retried by its caller,
    // instead of waiting in a queue; what is already flowing (media, open relays) goes on.
    const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    redis.on('error', () => undefined); // each user logs its own failures
    closers.push('cluster Redis', () => redis.disconnect());
    const rpc = new RedisRpc(config.redisUrl, logger.child({ component: 'cluster-rpc' }));
    closers.push('cluster rpc', () => rpc.close());
    await Promise.all([rpc.ready(), redis.status === 'ready' ? undefined : once(redis, 'ready')]);
    const node = new ClusterNode(o, nodeId, redis, rpc);
    await node.relays.start();
    closers.push('relays', () => node.relays.close());
    return node;
  }

  /** Pipes for this node's broadcasts, the sweeper of dead nodes' broadcasts, the drain, the heartbeat, and join redirects. */
  async serve(s: ClusterServeOptions): Promise<void> {
    const { config, logger, pool, notifier, closers } = this.#o;
    const pipes = new PipeServer({
      rpc: this.#rpc,
      queuePrefix: config.queuePrefix,
      nodeId: this.nodeId,
      lookup: (id) => s.originMedia(id) ?? this.relays.get(id)?.media,
      maxDirectEdges: config.cluster.maxDirectEdges,
      nodes: () => this.registry.list(),
      redisAbsence: this.#redisAbsence,
      checkMs: CHECK_MS,
      rpcTimeoutMs: RPC_TIMEOUT_MS,
      logger: logger.child({ component: 'pipes' }),
    });
    await pipes.start();
    this.#pipes = pipes;
    closers.push('pipes', () => pipes.close());
    const sweeper = new OrphanSweeper({
      stores: s.stores,
      directory: this.directory,
      notifier,
      recorder: s.recorder,
      isOriginHere: (id) => s.originMedia(id) !== undefined,
      graceMs: config.live.graceSeconds * 1000,
      redisAbsence: this.#redisAbsence,
      intervalMs: CHECK_MS,
      logger: logger.child({ component: 'orphans' }),
    });
    sweeper.start();
    closers.push('orphan sweeper', () => sweeper.close());
    const drain = new NodeDrain({
      draining: () => this.registry.draining,
      viewers: s.viewers,
      targets: () => this.redirects.targets(),
      notifier,
      tickMs: 250,
      movesPerTick: DRAIN_MOVES_PER_SECOND / 4,
      logger: logger.child({ component: 'drain' }),
    });
    drain.start();
    closers.push('drain', () => drain.close());
    const cpu = new WorkerCpu(pool, config.cluster.heartbeatMs, logger.child({ component: 'worker-cpu' }));
    this.#cpu = cpu;
    closers.push('worker cpu', () => cpu.close());
    const startedAt = new Date().toISOString();
    await this.registry.start(() => ({
      id: this.nodeId,
      url: s.url,
      announcedAddress: config.mediasoup.announcedAddress ?? null,
      startedAt,
      load: poolLoad(pool, cpu),
    }));
    this.#url = s.url;
    closers.push('node registry', () => this.registry.close());
    logger.info({ nodeId: this.nodeId, url: s.url, heartbeatMs: config.cluster.heartbeatMs, ttlMs: config.cluster.ttlMs, maxConsumersPerWorker: config.cluster.maxConsumersPerWorker }, 'registered as a node');
  }

  /** Pipes open to each edge node (for /metrics). */
  pipesByNode(): Map<string, number> {
    return this.#pipes?.pipesByNode() ?? new Map<string, number>();
  }

  /** What the open pipes to each edge node carried (for /metrics). */
  pipeTrafficByNode(): Promise<Map<string, PipeTraffic>> {
    return this.#pipes?.trafficByNode() ?? Promise.resolve(new Map<string, PipeTraffic>());
  }
}

/** What the media workers hold now, and the CPU they used lately, as the registry carries it. */
function poolLoad(pool: WorkerPool, cpu: WorkerCpu | undefined): NodeLoad {
  return {
    routers: pool.workers.reduce((n, w) => n + w.routerCount, 0),
    consumers: pool.workers.reduce((n, w) => n + w.consumerCount, 0),
    workers: pool.workers.map((w) => {
      const share = cpu?.share(w.pid);
      return share === undefined ? { index: w.index, pid: w.pid } : { index: w.index, pid: w.pid, cpu: share };
    }),
  };
}

/** The host name and the HTTP port; with port 0 (tests), the process id instead. */
function defaultNodeId(port: number): string {
  const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 50) || 'node';
  return `${host}-${port === 0 ? `p${process.pid}` : port}`;
}
