import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { RtpCapabilities } from '../../common/protocol/media.ts';
import type { BroadcastSummary, EndReason } from '../../common/protocol/events.ts';
import type { Broadcast } from '../../sfu/Broadcast.ts';
import { TypedEmitter } from '../../sfu/TypedEmitter.ts';
import type { Viewer } from '../../sfu/Viewer.ts';
import type { OriginLease } from '../cluster/OriginLease.ts';
import type { BroadcastRecord } from '../store/BroadcastStore.ts';
import type { Stores } from '../store/index.ts';
import { Audience } from './Audience.ts';
import type { Notifier, Recorder, ViewerTally } from './ports.ts';

/** Tries to move a broadcast off a dead worker, 200 ms × attempt apart (about 9 s in all). */
const RECOVERY_ATTEMPTS = 10;

export interface LiveBroadcastOptions {
  record: BroadcastRecord;
  media: Broadcast;
  /** The connection that started it. */
  broadcasterPeerId: string;
  /** Makes the media side again on a healthy worker (after a worker death). */
  createMedia: () => Promise<Broadcast>;
  stores: Stores;
  notifier: Notifier;
  /** Adds up the viewer count over nodes. */
  tally: ViewerTally;
  /** With a shared tally, how often the count is added up again. */
  countRefreshMs: number;
  /** This node's claim on the broadcast in the directory; released when it ends here. */
  lease: OriginLease;
  recorder: Recorder | undefined;
  logger: Logger;
  /** Seconds the broadcast waits for its broadcaster to come back. */
  graceSeconds: number;
  /** Seconds it may go without media before it ends with 'no-media'; 0 never ends it. */
  noMediaTimeoutSeconds: number;
}

export type LiveBroadcastEvents = {
  /** Emitted once, as the broadcast starts ending, while its clients still listen. */
  ending: [];
  /** Emitted once, when the broadcast has ended (stored and told to its clients). */
  close: [reason: EndReason];
};

/**
 * A broadcast on air in this process, the entity that owns everything of it: its media side
 * (moved to another worker when its worker dies), who sends into it and the grace period
 * while they are away, the no-media timeout, its viewers and their coalesced count, and its
 * end. `close(reason)` is idempotent and emits `close` once. The LiveService holds the map of
 * these and authorises callers; this class trusts its caller.
 */
export class LiveBroadcast extends TypedEmitter<LiveBroadcastEvents> {
  readonly #o: LiveBroadcastOptions;
  readonly #log: Logger;
  #record: BroadcastRecord;
  #media: Broadcast;
  #broadcasterPeerId: string | undefined;
  readonly #audience: Audience;
  readonly #startedAtMs: number;
  #graceTimer: NodeJS.Timeout | undefined;
  #noMediaTimer: NodeJS.Timeout | undefined;
  #closing: Promise<BroadcastSummary> | undefined;

  constructor(o: LiveBroadcastOptions) {
    super((event, error) => o.logger.error({ err: error, event }, 'a live broadcast listener threw'));
    this.#o = o;
    this.#log = o.logger;
    this.#record = o.record;
    this.#media = o.media;
    this.#broadcasterPeerId = o.broadcasterPeerId;
    this.#startedAtMs = Date.parse(o.record.startedAt);
    this.#audience = new Audience({
      broadcastId: o.record.id,
      ownerId: o.record.ownerId,
      notifier: o.notifier,
      tally: o.tally,
      refreshMs: o.countRefreshMs,
      logger: o.logger,
    });
    this.#watchMedia();
    this.#armNoMediaTimer();
    o.lease.on('lost', () => void this.abandon());
    o.notifier.join(o.broadcasterPeerId, this.id);
  }

  get id(): BroadcastId {
    return this.#record.id;
  }

  get record(): BroadcastRecord {
    return this.#record;
  }

  /** The media side (replaced when its worker dies). */
  get media(): Broadcast {
    return this.#media;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** The connection sending media, or undefined while the broadcaster is away. */
  get broadcasterPeerId(): string | undefined {
    return this.#broadcasterPeerId;
  }

  /** Milliseconds since the broadcast started: the timeline the replay syncs chat and hearts on. */
  offsetMs(now = Date.now()): number {
    return Math.max(0, now - this.#startedAtMs);
  }

  /** Distinct viewers over every node (one person's many connections count once; the owner never counts). */
  get viewerCount(): number {
    return this.#media.closed ? 0 : this.#audience.total;
  }

  summary(): BroadcastSummary {
    return toSummary(this.#record, this.viewerCount);
  }

  // ------------------------------------------------------- broadcaster --

  /** `peerId` takes over sending (a new connection, or after a worker death); the grace period ends. */
  async resumeBroadcaster(peerId: string): Promise<void> {
    this.#media.closeSendTransport();
    this.#broadcasterPeerId = peerId;
    this.#o.notifier.join(peerId, this.id);
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    if (this.#record.status !== 'live') await this.#setStatus('live');
  }

  /** The broadcaster's connection went away: the broadcast waits out its grace period. */
  broadcasterLeft(peerId: string): void {
    if (this.#broadcasterPeerId !== peerId) return;
    this.#broadcasterPeerId = undefined;
    this.#broadcasterAway();
  }

  // ------------------------------------------------------------ viewers --

  /** `peerId` watches from now on (idempotent); `key` is who it counts as. */
  /** `numberedBy`: the viewer's device numbers payload types itself (a WHEP player: Broadcast.addViewer). */
  async addViewer(peerId: string, key: string, userId: string | undefined, numberedBy?: RtpCapabilities): Promise<void> {
    if (this.#audience.has(peerId)) return;
    const viewer = await this.#media.addViewer(peerId, numberedBy);
    if (this.closed) {
      viewer.close('left');
      throw new AppError('BROADCAST_ENDED', 'this broadcast has ended');
    }
    this.#audience.add(peerId, viewer, key, userId);
  }

  /** `peerId`'s viewer here, if it watches and its viewer is alive. */
  viewerOf(peerId: string): Viewer | undefined {
    return this.#audience.viewerOf(peerId);
  }

  /** Whether `peerId` watches or broadcasts (who may chat and send hearts). */
  isParticipant(peerId: string): boolean {
    return this.#audience.has(peerId) || this.#broadcasterPeerId === peerId;
  }

  /** `peerId` stops watching (idempotent). */
  removeViewer(peerId: string): void {
    const viewer = this.#audience.remove(peerId);
    if (!viewer) return;
    if (!this.#media.closed) this.#media.removeViewer(peerId);
    else viewer.close('left');
    if (this.#broadcasterPeerId !== peerId) this.#o.notifier.leave(peerId, this.id);
  }

  // ------------------------------------------------------------- the end --

  /** Ends the broadcast: stored, its clients told why, its recording finalised. Idempotent. */
  close(reason: EndReason): Promise<BroadcastSummary> {
    return (this.#closing ??= this.#close(reason));
  }

  /**
   * Another node holds the broadcast now (this one lost its claim, e.g. while cut off from
   * Redis): stop serving it here without ending it. Clients here are told to rejoin (the
   * broadcaster to resume), which takes them to the new origin.
   */
  abandon(): Promise<BroadcastSummary> {
    return (this.#closing ??= (async () => {
      this.emit('ending');
      for (const t of [this.#graceTimer, this.#noMediaTimer]) if (t) clearTimeout(t);
      this.#media.close('stopped');
      this.#audience.close();
      this.#broadcasterPeerId = undefined;
      this.#o.notifier.toBroadcastHere(this.id, 'broadcast:interrupted', { broadcastId: this.id, reason: 'origin-moved' });
      await this.#o.lease.release();
      this.#log.warn('broadcast abandoned here: another node is its origin now');
      this.emit('close', 'server-shutdown');
      return toSummary(this.#record, 0);
    })());
  }

  async #close(reason: EndReason): Promise<BroadcastSummary> {
    this.emit('ending');
    for (const t of [this.#graceTimer, this.#noMediaTimer]) if (t) clearTimeout(t);
    this.#media.close('stopped');
    this.#audience.close();
    this.#broadcasterPeerId = undefined;
    try {
      const ended = await this.#o.stores.broadcasts.end(this.id, reason);
      if (ended) this.#record = ended;
    } catch (err) {
      this.#log.error({ err }, 'could not store the end of a broadcast');
      this.#record = { ...this.#record, status: 'ended', endedAt: new Date().toISOString(), endReason: reason };
    }
    this.#o.notifier.toBroadcast(this.id, 'broadcast:ended', { broadcastId: this.id, reason });
    this.#o.notifier.clear(this.id);
    await this.#o.lease.release();
    this.emit('close', reason);
    await this.#o.recorder?.broadcastEnded(this.id);
    this.#log.info({ reason }, 'broadcast ended');
    return toSummary(this.#record, 0);
  }

  // ----------------------------------------------------------- private --

  #watchMedia(): void {
    const media = this.#media;
    media.on('newproducer', ({ kind }) => {
      if (this.#media === media && !this.closed) this.#o.notifier.toBroadcastHere(this.id, 'producer:new', { broadcastId: this.id, kind });
    });
    media.on('close', (reason) => {
      if (reason === 'worker-died' && this.#media === media && !this.closed) void this.#recoverMedia();
    });
  }

  /**
   * The media worker died: new routers on a healthy worker (waiting for the pool to replace
   * workers if none is up), then everyone is told to rejoin. Until the broadcaster produces
   * again, the broadcast is reconnecting, with the usual grace period.
   */
  async #recoverMedia(): Promise<void> {
    this.#log.warn('media worker of broadcast died; moving it to another worker');
    // Media that flowed before the crash counts: from here the grace period decides.
    if (this.#noMediaTimer && (await this.#media.mediaReceived())) {
      clearTimeout(this.#noMediaTimer);
      this.#noMediaTimer = undefined;
    }
    this.#audience.clear();
    this.#broadcasterAway();
    for (let attempt = 1; ; attempt++) {
      try {
        const media = await this.#o.createMedia();
        if (this.closed) {
          media.close('stopped');
          return;
        }
        this.#media = media;
        break;
      } catch (err) {
        if (attempt >= RECOVERY_ATTEMPTS || this.closed) {
          this.#log.error({ err }, 'could not recreate media for broadcast');
          await this.close('broadcaster-left');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, attempt * 200));
      }
    }
    this.#watchMedia();
    // Here only: edge nodes lose their pipe with the old media and tell their own viewers.
    this.#o.notifier.toBroadcastHere(this.id, 'broadcast:interrupted', { broadcastId: this.id, reason: 'media-worker-died' });
  }

  /**
   * A broadcast that never sends media ends after `noMediaTimeoutSeconds`, so throwaway
   * accounts cannot keep empty broadcasts on air. "Media" means RTP that arrived (see
   * `Broadcast.mediaReceived`), not merely a producer. Once media has flowed the timer is
   * done: a broadcaster who drops later is covered by the grace period alone.
   */
  #armNoMediaTimer(): void {
    const seconds = this.#o.noMediaTimeoutSeconds;
    if (seconds <= 0) return;
    this.#noMediaTimer = setTimeout(() => {
      this.#noMediaTimer = undefined;
      void this.#endIfNoMedia();
    }, seconds * 1000);
    this.#noMediaTimer.unref();
  }

  async #endIfNoMedia(): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the await above; TS keeps the narrowing across it
    if (this.closed || (await this.#media.mediaReceived()) || this.closed) return;
    this.#log.info({ timeoutSeconds: this.#o.noMediaTimeoutSeconds }, 'no media arrived; ending the broadcast');
    await this.close('no-media');
  }

  #broadcasterAway(): void {
    if (!this.#media.closed) this.#media.closeSendTransport();
    if (this.#graceTimer) return;
    this.#graceTimer = setTimeout(() => void this.close('broadcaster-left'), this.#o.graceSeconds * 1000);
    this.#graceTimer.unref();
    void this.#setStatus('reconnecting');
    this.#log.info({ graceSeconds: this.#o.graceSeconds }, 'broadcaster away; waiting');
  }

  async #setStatus(status: 'live' | 'reconnecting'): Promise<void> {
    this.#record = { ...this.#record, status };
    this.#o.notifier.toBroadcast(this.id, 'broadcast:status', { broadcastId: this.id, status });
    try {
      await this.#o.stores.broadcasts.setStatus(this.id, status);
    } catch (err) {
      this.#log.error({ err }, 'could not store broadcast status');
    }
  }
}

/** The wire summary of a stored broadcast. */
export function toSummary(r: BroadcastRecord, viewerCount: number): BroadcastSummary {
  return {
    id: r.id,
    title: r.title,
    visibility: r.visibility,
    owner: { id: r.ownerId, username: r.ownerUsername },
    status: r.status,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    viewerCount,
    source: r.source,
  };
}
