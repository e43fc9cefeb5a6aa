import type { LiveNode } from '../../common/cluster/NodeRegistry.ts';
import { OriginRequestSchema, pipeChannels, type OriginRequest, type PipeOpened } from '../../common/cluster/pipeProtocol.ts';
import { AppError, describeZodError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { RedisRpc } from '../../common/redisRpc.ts';
import type { Broadcast } from '../../sfu/Broadcast.ts';
import type { OriginPipe, PipeTraffic } from '../../sfu/OriginPipe.ts';
import type { RedisAbsence } from './RedisAbsence.ts';

export interface PipeServerOptions {
  rpc: RedisRpc;
  queuePrefix: string;
  nodeId: string;
  /** The media of a broadcast this node has: as its origin, or as a relay of it (which pipes it on). */
  lookup: (id: BroadcastId) => Broadcast | undefined;
  /** Edges this node pipes one broadcast to; one more is sent to one of them (a relay tree). */
  maxDirectEdges: number;
  /** The nodes alive now (the registry); those not drained are the only ones a new edge is sent to as its relay. */
  nodes: () => Promise<LiveNode[]>;
  /** While it settles after a Redis outage, an edge missing from the registry is not taken for dead. */
  redisAbsence: RedisAbsence;
  /** How often pipes to dead nodes are looked for. */
  checkMs: number;
  rpcTimeoutMs: number;
  logger: Logger;
}

interface OpenPipe {
  pipe: OriginPipe;
  broadcastId: BroadcastId;
  edgeNodeId: string;
  /** The edge asked for the close: nothing to tell it. */
  closedByEdge: boolean;
}

/**
 * The origin's side of media across nodes (common/cluster/pipeProtocol.ts): opens a pipe
 * for each edge node that asks (a live node, for a broadcast this node is the origin of),
 * tells the edge of producers that come and go and of the pipe's end, and closes the pipes
 * of edge nodes whose heartbeat lapsed.
 */
export class PipeServer {
  readonly #o: PipeServerOptions;
  readonly #pipes = new Map<string, OpenPipe>();
  /** Round robin over the edges an edge past the limit is sent to. */
  #nextRedirect = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: PipeServerOptions) {
    this.#o = o;
  }

  async start(): Promise<void> {
    await this.#o.rpc.serve(pipeChannels(this.#o.queuePrefix, this.#o.nodeId).origin, (payload) => this.#handle(payload));
    this.#timer = setInterval(() => void this.#closeLapsed(), this.#o.checkMs);
    this.#timer.unref();
  }

  /** Pipes open now, by edge node (for /metrics). */
  pipesByNode(): Map<string, number> {
    const out = new Map<string, number>();
    for (const p of this.#pipes.values()) out.set(p.edgeNodeId, (out.get(p.edgeNodeId) ?? 0) + 1);
    return out;
  }

  /** What the open pipes carried since they opened, summed by edge node (for /metrics). */
  async trafficByNode(): Promise<Map<string, PipeTraffic>> {
    const out = new Map<string, PipeTraffic>();
    for (const p of [...this.#pipes.values()]) {
      const t = await p.pipe.traffic();
      const sum = out.get(p.edgeNodeId) ?? { bytes: 0, packets: 0, nacks: 0, keyFrameRequests: 0 };
      for (const k of Object.keys(sum) as Array<keyof PipeTraffic>) sum[k] += t[k];
      out.set(p.edgeNodeId, sum);
    }
    return out;
  }

  /** Closes every pipe (their edges are told). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const p of [...this.#pipes.values()]) p.pipe.close();
  }

  async #handle(payload: unknown): Promise<PipeOpened | { ok: true }> {
    const parsed = OriginRequestSchema.safeParse(payload);
    if (!parsed.success) throw new AppError('VALIDATION_FAILED', `pipe request: ${describeZodError(parsed.error)}`);
    const req = parsed.data;
    if (req.op === 'close') {
      const open = this.#pipes.get(req.pipeId);
      if (open && open.broadcastId === req.broadcastId && open.edgeNodeId === req.edgeNodeId) {
        open.closedByEdge = true;
        open.pipe.close();
      }
      return { ok: true };
    }
    return this.#open(req);
  }

  async #open(req: Extract<OriginRequest, { op: 'open' }>): Promise<PipeOpened> {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'this node is shutting down');
    const media = this.#o.lookup(req.broadcastId);
    if (!media || media.closed) throw new AppError('NOT_FOUND', 'this node is not the origin of that broadcast');
    const nodes = await this.#o.nodes();
    if (req.edgeNodeId === this.#o.nodeId || !nodes.some((n) => n.id === req.edgeNodeId)) {
      throw new AppError('FORBIDDEN', 'pipes are opened only for other live nodes of this deployment');
    }
    if (this.#pipes.has(req.pipeId)) throw new AppError('WRONG_STATE', 'that pipe is open already');
    const fed = [...this.#pipes.values()].filter((p) => p.broadcastId === req.broadcastId);
    if (fed.length >= this.#o.maxDirectEdges) {
      const serving = new Set(nodes.filter((n) => !n.draining).map((n) => n.id));
      const others = fed.filter((p) => p.edgeNodeId !== req.edgeNodeId && serving.has(p.edgeNodeId));
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- the index is taken modulo the length of a non-empty list
      if (others.length > 0) return { redirect: others[this.#nextRedirect++ % others.length]!.edgeNodeId };
    }
    const { pipe, producers } = await media.openPipe(req.edge, req.pipeId);
    const open: OpenPipe = { pipe, broadcastId: req.broadcastId, edgeNodeId: req.edgeNodeId, closedByEdge: false };
    this.#pipes.set(pipe.id, open);
    const log = this.#o.logger.child({ broadcastId: req.broadcastId, pipeId: pipe.id, edgeNodeId: req.edgeNodeId });
    pipe.on('producer', (producer) => this.#tell(open, { op: 'producer', broadcastId: open.broadcastId, pipeId: pipe.id, producer }, log));
    pipe.on('producerclose', (producerId) => this.#tell(open, { op: 'producer-closed', broadcastId: open.broadcastId, pipeId: pipe.id, producerId }, log));
    pipe.on('close', () => {
      this.#pipes.delete(pipe.id);
      if (!open.closedByEdge) this.#tell(open, { op: 'closed', broadcastId: open.broadcastId, pipeId: pipe.id }, log);
    });
    return { origin: pipe.endpoint, producers };
  }

  #tell(open: OpenPipe, message: unknown, log: Logger): void {
    this.#o.rpc
      .call(pipeChannels(this.#o.queuePrefix, open.edgeNodeId).edge, message, this.#o.rpcTimeoutMs)
      .catch((err: unknown) => {
        log.warn({ err }, 'the edge did not take a pipe update; closing the pipe (the edge rebuilds it)');
        open.pipe.close();
      });
  }

  async #closeLapsed(): Promise<void> {
    if (this.#pipes.size === 0) return;
    let alive: ReadonlySet<string>;
    try {
      alive = new Set((await this.#o.nodes()).map((n) => n.id));
    } catch {
      this.#o.redisAbsence.markAway();
      return; // Redis away: keep the pipes
    }
    // Redis just came back without the heartbeats that expired meanwhile: wait for them.
    if (this.#o.redisAbsence.settling()) return;
    for (const open of [...this.#pipes.values()]) {
      if (alive.has(open.edgeNodeId)) continue;
      this.#o.logger.warn({ pipeId: open.pipe.id, edgeNodeId: open.edgeNodeId }, 'edge node lapsed; closing its pipe');
      open.closedByEdge = true;
      open.pipe.close();
    }
  }
}
