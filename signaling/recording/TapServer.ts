import type { Logger } from '../../common/logger.ts';
import type { RedisRpc } from '../../common/redisRpc.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { Broadcast } from '../../sfu/Broadcast.ts';
import type { RecordingTap } from '../../sfu/RecordingTap.ts';
import { TapRequestSchema, tapChannels, type TapClosed, type TapRequest, type TapResponse } from '../../common/jobs/tap.ts';

/** What the tap server needs of a broadcast on air in this process. */
export interface TapSource {
  readonly media: Broadcast;
  /** Milliseconds since the broadcast started (the replay's chat clock). */
  offsetMs(): number;
}

export interface TapServerOptions {
  rpc: RedisRpc;
  /** The deployment's namespace in Redis (config.queuePrefix). */
  queuePrefix: string;
  logger: Logger;
  /** The broadcast if it is on air in this process. */
  lookup: (id: BroadcastId) => TapSource | undefined;
  /** Whether a broadcast that is not on air here is over (ended or unknown) rather than hosted elsewhere. */
  isOver: (id: BroadcastId) => Promise<boolean>;
  keyframeIntervalMs: number;
  /** A tap without a heartbeat for this long is closed. */
  leaseMs: number;
  /** With only one kind of track, wait this long for the other before recording anyway. */
  secondTrackWaitMs: number;
}

interface OpenTap {
  tap: RecordingTap;
  broadcastId: BroadcastId;
  lease: NodeJS.Timeout;
  /** Why we closed it, when we did (the tap's own reason otherwise). */
  reason: string | undefined;
  detach: () => void;
}

/** Closed tap ids kept to answer late heartbeats with the reason. */
const REMEMBER_CLOSED = 1000;

/**
 * The SFU side of the recording tap protocol (common/jobs/tap.ts): opens, resumes and closes
 * {@link RecordingTap}s for record jobs that ask over Redis, one tap per broadcast, and
 * announces every close so the recorder can start a new run or finish.
 */
export class TapServer {
  readonly #o: TapServerOptions;
  readonly #taps = new Map<string, OpenTap>();
  readonly #byBroadcast = new Map<BroadcastId, string>();
  readonly #closedReasons = new Map<string, string>();
  /** When a broadcast was first asked for while it had one kind of track only. */
  readonly #partialSince = new Map<BroadcastId, number>();
  #closed = false;

  constructor(options: TapServerOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    await this.#o.rpc.serve(tapChannels(this.#o.queuePrefix).rpc, (payload) => this.#handle(payload));
  }

  /** The broadcast ended: close its tap so the recorder finishes. */
  broadcastEnded(id: BroadcastId): void {
    this.#partialSince.delete(id);
    const tapId = this.#byBroadcast.get(id);
    if (tapId) this.#close(tapId, 'ended');
  }

  /**
   * The broadcast was taken over here from a dead origin: every recorder of it is told that
   * its tap is gone ('origin-moved'), so it asks again now rather than after its heartbeats
   * went unanswered.
   */
  broadcastMoved(id: BroadcastId): void {
    const message: TapClosed = { broadcastId: id, reason: 'origin-moved' };
    this.#o.rpc.publish(tapChannels(this.#o.queuePrefix).closed, message).catch((err: unknown) => {
      this.#o.logger.warn({ err, broadcastId: id }, 'could not announce a moved broadcast');
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [tapId, open] of [...this.#taps]) this.#close(tapId, this.#o.lookup(open.broadcastId) ? 'server-shutdown' : 'ended');
  }

  async #handle(payload: unknown): Promise<TapResponse | undefined> {
    const parsed = TapRequestSchema.safeParse(payload);
    if (!parsed.success) {
      // Not the payload: it may carry an SRTP key.
      this.#o.logger.warn({ issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }, 'dropped an invalid tap request');
      return undefined;
    }
    const req = parsed.data;
    if (req.op === 'open') return this.#open(req);
    const open = this.#taps.get(req.tapId);
    if (!open) {
      const reason = this.#closedReasons.get(req.tapId);
      return reason === undefined ? undefined : { status: 'closed', reason };
    }
    switch (req.op) {
      case 'resume': {
        await open.tap.resume();
        this.#renew(req.tapId, open);
        const source = this.#o.lookup(open.broadcastId);
        return { status: 'resumed', offsetMs: source ? Math.round(source.offsetMs()) : 0 };
      }
      case 'heartbeat':
        this.#renew(req.tapId, open);
        return { status: 'ok' };
      case 'close':
        this.#close(req.tapId, 'closed-by-recorder');
        return { status: 'ok' };
    }
  }

  async #open(req: Extract<TapRequest, { op: 'open' }>): Promise<TapResponse | undefined> {
    if (this.#closed) return undefined;
    const source = this.#o.lookup(req.broadcastId);
    if (!source || source.media.closed) {
      if (!source && (await this.#o.isOver(req.broadcastId))) return { status: 'ended' };
      return source ? { status: 'not-ready' } : undefined;
    }
    const kinds = new Set(source.media.producers.map((p) => p.kind));
    if (kinds.size === 0) return { status: 'not-ready' };
    if (kinds.size === 1) {
      const since = this.#partialSince.get(req.broadcastId) ?? Date.now();
      this.#partialSince.set(req.broadcastId, since);
      if (Date.now() - since < this.#o.secondTrackWaitMs) return { status: 'not-ready' };
    }
    const previous = this.#byBroadcast.get(req.broadcastId);
    if (previous) this.#close(previous, 'replaced');

    const media = source.media;
    const tap = await media.openRecordingTap(
      { ip: req.host, video: req.video, audio: req.audio, srtp: req.srtp },
      this.#o.keyframeIntervalMs,
    );
    const tapId = tap.id;
    const onNewProducer = ({ kind }: { kind: string }) => {
      if (!tap.streams.some((s) => s.kind === kind)) this.#close(tapId, 'producers-changed');
    };
    media.on('newproducer', onNewProducer);
    const open: OpenTap = {
      tap,
      broadcastId: req.broadcastId,
      lease: setTimeout(() => this.#close(tapId, 'lease-expired'), this.#o.leaseMs),
      reason: undefined,
      detach: () => media.off('newproducer', onNewProducer),
    };
    open.lease.unref();
    this.#taps.set(tapId, open);
    this.#byBroadcast.set(req.broadcastId, tapId);
    tap.once('close', (tapReason) => {
      // The broadcast's media closes when it ends (it is off the air by then) or moves to another worker.
      const why = tapReason === 'producer-closed' ? 'producers-changed' : this.#o.lookup(open.broadcastId) ? 'media-closed' : 'ended';
      this.#onTapClosed(tapId, open, open.reason ?? why);
    });
    return { status: 'opened', tapId, streams: tap.streams };
  }

  #renew(tapId: string, open: OpenTap): void {
    clearTimeout(open.lease);
    open.lease = setTimeout(() => this.#close(tapId, 'lease-expired'), this.#o.leaseMs);
    open.lease.unref();
  }

  #close(tapId: string, reason: string): void {
    const open = this.#taps.get(tapId);
    if (!open) return;
    open.reason ??= reason;
    open.tap.close();
  }

  #onTapClosed(tapId: string, open: OpenTap, reason: string): void {
    clearTimeout(open.lease);
    open.detach();
    this.#taps.delete(tapId);
    if (this.#byBroadcast.get(open.broadcastId) === tapId) this.#byBroadcast.delete(open.broadcastId);
    this.#closedReasons.set(tapId, reason);
    if (this.#closedReasons.size > REMEMBER_CLOSED) {
      const oldest = this.#closedReasons.keys().next().value;
      if (oldest !== undefined) this.#closedReasons.delete(oldest);
    }
    this.#o.logger.info({ tapId, broadcastId: open.broadcastId, reason }, 'recording tap closed');
    const message: TapClosed = { tapId, broadcastId: open.broadcastId, reason };
    this.#o.rpc.publish(tapChannels(this.#o.queuePrefix).closed, message).catch((err: unknown) => {
      this.#o.logger.warn({ err, tapId }, 'could not announce a closed tap');
    });
  }
}
