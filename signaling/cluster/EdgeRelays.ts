import { randomUUID } from 'node:crypto';
import type { BroadcastDirectory, OriginClaim } from '../../common/cluster/BroadcastDirectory.ts';
import type { LiveNode } from '../../common/cluster/NodeRegistry.ts';
import { EdgeRequestSchema, PipeOpenedSchema, pipeChannels, type EdgeRequest, type PipeEndpoint, type PipeFed } from '../../common/cluster/pipeProtocol.ts';
import { AppError, describeZodError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { RedisRpc } from '../../common/redisRpc.ts';
import { Broadcast } from '../../sfu/Broadcast.ts';
import type { WorkerPool } from '../../sfu/WorkerPool.ts';
import type { Notifier, ViewerTally } from '../live/ports.ts';
import { RelayedBroadcast } from '../live/RelayedBroadcast.ts';
import type { BroadcastRecord } from '../store/BroadcastStore.ts';
import type { RedisAbsence } from './RedisAbsence.ts';

/** Redirects an edge follows down the relay tree before it gives up (a tree of depth 8 serves 8^8 edges). */
const MAX_HOPS = 8;

export interface EdgeRelaysOptions {
  rpc: RedisRpc;
  queuePrefix: string;
  nodeId: string;
  directory: BroadcastDirectory;
  /**
   * The nodes alive now (the registry): a relay fed by another relay closes when that node
   * lapses; an origin that claimed its broadcast again is the same process if it started when it did.
   */
  nodes: () => Promise<LiveNode[]>;
  /** While it settles after a Redis outage, claims and heartbeats may still be missing. */
  redisAbsence: RedisAbsence;
  pool: WorkerPool;
  maxViewersPerRouter: number;
  notifier: Notifier;
  tally: ViewerTally;
  countRefreshMs: number;
  /** A relay with no viewer closes after this long. */
  idleMs: number;
  /** How often each relay's origin claim (and the node feeding it) is checked. */
  checkMs: number;
  /** How long the origin may take to answer. */
  rpcTimeoutMs: number;
  logger: Logger;
}

interface Entry {
  broadcastId: BroadcastId;
  pipeId: string;
  originNodeId: string;
  /** The node whose pipe feeds this relay: the origin, or a relay of it (a relay tree). */
  parentNodeId: string;
  /** The origin's claim token: a claim by another node, or by another process of it, ends the relay. */
  token: number;
  /** When the origin's process started (the registry's `startedAt`), if it was listed when the pipe opened. */
  originStartedAt: string | undefined;
  media: Broadcast;
  relay: RelayedBroadcast | undefined;
}

/**
 * This node's side of media across nodes (common/cluster/pipeProtocol.ts): the relays of
 * broadcasts whose origin is another node, one per broadcast, opened on the first join and
 * fed through a pipe from the origin — or from a relay of it on another node, when the origin
 * sends this one there (it feeds as many edges as it may: a relay tree). Serves the feeding
 * node's announcements (new and closed producers, a closed pipe) and closes a relay whose
 * origin's claim lapsed or changed hands, or whose feeding relay's node lapsed.
 */
export class EdgeRelays {
  readonly #o: EdgeRelaysOptions;
  readonly #log: Logger;
  readonly #byBroadcast = new Map<BroadcastId, Entry>();
  readonly #byPipe = new Map<string, Entry>();
  readonly #opening = new Map<BroadcastId, Promise<RelayedBroadcast>>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: EdgeRelaysOptions) {
    this.#o = o;
    this.#log = o.logger;
  }

  async start(): Promise<void> {
    await this.#o.rpc.serve(pipeChannels(this.#o.queuePrefix, this.#o.nodeId).edge, (payload) => this.#handle(payload));
    this.#timer = setInterval(() => void this.#check(), this.#o.checkMs);
    this.#timer.unref();
  }

  /** The relay of `id` here, if open. */
  get(id: BroadcastId): RelayedBroadcast | undefined {
    const relay = this.#byBroadcast.get(id)?.relay;
    return relay && !relay.closed ? relay : undefined;
  }

  get count(): number {
    return this.#byBroadcast.size;
  }

  /**
   * The relay of a live broadcast hosted by another node, opened if needed.
   * @throws AppError('UNAVAILABLE') when no node is its origin right now (it is moving, or
   *   its origin died and its broadcaster has not resumed yet) or the origin does not answer.
   */
  relay(record: BroadcastRecord): Promise<RelayedBroadcast> {
    const open = this.get(record.id);
    if (open) return Promise.resolve(open);
    if (this.#closed) return Promise.reject(new AppError('UNAVAILABLE', 'this server is shutting down'));
    let opening = this.#opening.get(record.id);
    if (!opening) {
      opening = this.#open(record).finally(() => this.#opening.delete(record.id));
      this.#opening.set(record.id, opening);
    }
    return opening;
  }

  /** Closes every relay. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const entry of [...this.#byBroadcast.values()]) this.#closeEntry(entry, 'shutdown');
  }

  async #open(record: BroadcastRecord): Promise<RelayedBroadcast> {
    const claim = await this.#o.directory.lookup(record.id).catch(() => {
      throw new AppError('UNAVAILABLE', 'the broadcast directory does not answer; try again');
    });
    if (!claim || claim.nodeId === this.#o.nodeId) {
      throw new AppError('UNAVAILABLE', 'this broadcast is moving between servers; try again in a moment');
    }
    const logger = this.#log.child({ broadcastId: record.id, originNodeId: claim.nodeId });
    const originStartedAt = (await this.#o.nodes().catch(() => [])).find((n) => n.id === claim.nodeId)?.startedAt;
    const media = await Broadcast.create({ id: record.id, pool: this.#o.pool, maxViewersPerRouter: this.#o.maxViewersPerRouter, logger });
    // Registered before the origin is asked: it may announce producers before it answers.
    const entry: Entry = { broadcastId: record.id, pipeId: randomUUID(), originNodeId: claim.nodeId, parentNodeId: claim.nodeId, token: claim.token, originStartedAt, media, relay: undefined };
    this.#byBroadcast.set(record.id, entry);
    this.#byPipe.set(entry.pipeId, entry);
    try {
      const feed = await media.openFeed();
      const fed = await this.#askForPipe(entry, feed.endpoint);
      await feed.connect(fed.origin);
      for (const p of fed.producers) await media.addFedProducer(p);
      if (this.#closed || media.closed) throw new AppError('UNAVAILABLE', 'the relay closed while opening; join again');
      const relay = new RelayedBroadcast({
        record,
        media,
        notifier: this.#o.notifier,
        tally: this.#o.tally,
        countRefreshMs: this.#o.countRefreshMs,
        idleMs: this.#o.idleMs,
        logger,
      });
      entry.relay = relay;
      relay.on('close', (reason) => {
        this.#forget(entry);
        if (reason !== 'origin-closed') this.#tellOrigin(entry);
      });
      logger.info({ pipeId: entry.pipeId, parentNodeId: entry.parentNodeId, producers: fed.producers.length }, 'relay opened');
      return relay;
    } catch (err) {
      this.#forget(entry);
      media.close('stopped');
      this.#tellOrigin(entry);
      if (err instanceof AppError && err.code === 'NOT_FOUND') {
        // The origin no longer hosts it (it just ended or moved).
        throw new AppError('UNAVAILABLE', 'this broadcast is moving between servers; try again in a moment', { cause: err });
      }
      throw err;
    }
  }

  /**
   * Asks the origin for a pipe, and follows its redirects down the relay tree (at most
   * MAX_HOPS) to the node that opens it; `entry.parentNodeId` is that node.
   */
  async #askForPipe(entry: Entry, endpoint: PipeEndpoint): Promise<PipeFed> {
    const asked = new Set<string>([this.#o.nodeId]);
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      asked.add(entry.parentNodeId);
      const answer = await this.#o.rpc.call(
        pipeChannels(this.#o.queuePrefix, entry.parentNodeId).origin,
        { op: 'open', broadcastId: entry.broadcastId, pipeId: entry.pipeId, edgeNodeId: this.#o.nodeId, edge: endpoint },
        this.#o.rpcTimeoutMs,
      );
      const opened = PipeOpenedSchema.safeParse(answer);
      if (!opened.success) throw new AppError('UNAVAILABLE', `${entry.parentNodeId} answered a malformed pipe: ${describeZodError(opened.error)}`);
      if (!('redirect' in opened.data)) return opened.data;
      if (asked.has(opened.data.redirect)) throw new AppError('UNAVAILABLE', 'the relay tree sent this node in a circle; try again');
      entry.parentNodeId = opened.data.redirect;
    }
    throw new AppError('UNAVAILABLE', `no node of the relay tree took this one within ${MAX_HOPS} hops; try again`);
  }

  async #handle(payload: unknown): Promise<{ ok: true }> {
    const parsed = EdgeRequestSchema.safeParse(payload);
    if (!parsed.success) throw new AppError('VALIDATION_FAILED', describeZodError(parsed.error));
    const req: EdgeRequest = parsed.data;
    const entry = this.#byPipe.get(req.pipeId);
    if (!entry || entry.broadcastId !== req.broadcastId) throw new AppError('NOT_FOUND', 'no such pipe on this node');
    switch (req.op) {
      case 'producer':
        await entry.media.addFedProducer(req.producer);
        break;
      case 'producer-closed':
        entry.media.closeFedProducer(req.producerId);
        break;
      case 'closed':
        this.#closeEntry(entry, 'origin-closed');
        break;
    }
    return { ok: true };
  }

  /**
   * Closes relays whose origin claim lapsed or changed hands (the origin died or moved), and
   * relays fed by a relay whose node lapsed. While Redis is away nothing is closed (what flows
   * goes on); for two TTLs after it is back, a claim or a node missing is not taken for dead
   * (Redis restarted without them, and the origin writes them again within that time); and a
   * claim taken again by the same origin process (its claim lapsed in the outage) keeps the
   * relay, whose pipe never stopped.
   */
  async #check(): Promise<void> {
    const settling = this.#o.redisAbsence.settling();
    let nodes: Map<string, LiveNode> | undefined;
    const live = async () => (nodes ??= new Map((await this.#o.nodes()).map((n) => [n.id, n])));
    for (const entry of [...this.#byBroadcast.values()]) {
      if (!entry.relay) continue;
      let claim: OriginClaim | null;
      let verdict: 'keep' | 'adopt' | 'lost';
      try {
        claim = await this.#o.directory.lookup(entry.broadcastId);
        verdict = await this.#judge(entry, claim, live, settling);
      } catch {
        this.#o.redisAbsence.markAway();
        return; // Redis away: keep serving what flows
      }
      if (verdict === 'lost') this.#closeEntry(entry, 'origin-lost');
      else if (verdict === 'adopt' && claim) {
        this.#log.warn({ broadcastId: entry.broadcastId, originNodeId: entry.originNodeId }, 'the origin claimed its broadcast again (its claim lapsed while Redis was away): the relay goes on');
        entry.token = claim.token;
      }
    }
  }

  /**
   * 'adopt': the origin's process claimed the broadcast again (take its new token); 'keep':
   * nothing to do yet (while settling, the origin may not be listed again: judged again next time).
   */
  async #judge(entry: Entry, claim: OriginClaim | null, live: () => Promise<Map<string, LiveNode>>, settling: boolean): Promise<'keep' | 'adopt' | 'lost'> {
    if (!claim) return settling ? 'keep' : 'lost';
    if (claim.nodeId !== entry.originNodeId) return 'lost';
    if (claim.token !== entry.token) {
      // Claimed again by the same node: the same process (its pipe flows on), or a restarted one.
      const origin = (await live()).get(entry.originNodeId);
      if (origin === undefined) return settling ? 'keep' : 'lost';
      return origin.startedAt === entry.originStartedAt ? 'adopt' : 'lost';
    }
    if (entry.parentNodeId !== entry.originNodeId && !settling && !(await live()).has(entry.parentNodeId)) return 'lost';
    return 'keep';
  }

  #closeEntry(entry: Entry, reason: 'origin-closed' | 'origin-lost' | 'shutdown'): void {
    if (entry.relay) entry.relay.close(reason);
    else {
      this.#forget(entry);
      entry.media.close('stopped');
    }
  }

  #forget(entry: Entry): void {
    if (this.#byBroadcast.get(entry.broadcastId) === entry) this.#byBroadcast.delete(entry.broadcastId);
    this.#byPipe.delete(entry.pipeId);
  }

  #tellOrigin(entry: Entry): void {
    const { broadcastId } = entry;
    this.#o.rpc
      .call(pipeChannels(this.#o.queuePrefix, entry.parentNodeId).origin, { op: 'close', broadcastId, pipeId: entry.pipeId, edgeNodeId: this.#o.nodeId }, this.#o.rpcTimeoutMs)
      .catch((err: unknown) => this.#log.debug({ err, pipeId: entry.pipeId }, 'the feeding node did not hear that a pipe closed (it closes it when this node lapses)'));
  }
}
