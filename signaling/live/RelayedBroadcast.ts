import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { RtpCapabilities } from '../../common/protocol/media.ts';
import type { BroadcastSummary } from '../../common/protocol/events.ts';
import type { Broadcast } from '../../sfu/Broadcast.ts';
import { TypedEmitter } from '../../sfu/TypedEmitter.ts';
import type { Viewer } from '../../sfu/Viewer.ts';
import type { BroadcastRecord } from '../store/BroadcastStore.ts';
import { Audience } from './Audience.ts';
import { toSummary } from './LiveBroadcast.ts';
import type { Notifier, ViewerTally } from './ports.ts';

/**
 * Why a relay closed: no viewer for a while ('idle'); the origin closed the pipe
 * ('origin-closed': the broadcast ended or its media moved); the origin's claim lapsed or
 * changed hands ('origin-lost'); this node is shutting down ('shutdown').
 */
export type RelayCloseReason = 'idle' | 'origin-closed' | 'origin-lost' | 'shutdown';

export type RelayedBroadcastEvents = { close: [reason: RelayCloseReason] };

export interface RelayedBroadcastOptions {
  record: BroadcastRecord;
  /** Media fed from the origin node (Broadcast.openFeed). */
  media: Broadcast;
  notifier: Notifier;
  tally: ViewerTally;
  countRefreshMs: number;
  /** Closed this long after its last viewer left. */
  idleMs: number;
  logger: Logger;
}

/**
 * A broadcast whose origin is another node, served to this node's viewers through a pipe
 * (an edge of the broadcast; signaling/cluster/EdgeRelays.ts opens and feeds it). It owns its
 * media and its audience; the broadcaster, the grace period and the end belong to the origin.
 * When it closes for any reason but idleness or shutdown, its viewers are told to rejoin.
 */
export class RelayedBroadcast extends TypedEmitter<RelayedBroadcastEvents> {
  readonly #o: RelayedBroadcastOptions;
  readonly #audience: Audience;
  readonly #startedAtMs: number;
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: RelayedBroadcastOptions) {
    super((event, error) => o.logger.error({ err: error, event }, 'a relayed broadcast listener threw'));
    this.#o = o;
    this.#startedAtMs = Date.parse(o.record.startedAt);
    this.#audience = new Audience({
      broadcastId: o.record.id,
      ownerId: o.record.ownerId,
      notifier: o.notifier,
      tally: o.tally,
      refreshMs: o.countRefreshMs,
      logger: o.logger,
    });
    o.media.on('newproducer', ({ kind }) => {
      if (!this.#closed) o.notifier.toBroadcastHere(this.id, 'producer:new', { broadcastId: this.id, kind });
    });
    o.media.on('close', () => this.close('origin-lost'));
    this.#armIdle();
  }

  get id(): BroadcastId {
    return this.#o.record.id;
  }

  get record(): BroadcastRecord {
    return this.#o.record;
  }

  get media(): Broadcast {
    return this.#o.media;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Nobody sends media into a relay: the broadcaster is on the origin. */
  get broadcasterPeerId(): undefined {
    return undefined;
  }

  offsetMs(now = Date.now()): number {
    return Math.max(0, now - this.#startedAtMs);
  }

  get viewerCount(): number {
    return this.#closed ? 0 : this.#audience.total;
  }

  summary(): BroadcastSummary {
    return toSummary(this.#o.record, this.viewerCount);
  }

  /** `numberedBy`: the viewer's device numbers payload types itself (a WHEP player: Broadcast.addViewer). */
  async addViewer(peerId: string, key: string, userId: string | undefined, numberedBy?: RtpCapabilities): Promise<void> {
    if (this.#audience.has(peerId)) return;
    const viewer = await this.#o.media.addViewer(peerId, numberedBy);
    if (this.#closed) {
      viewer.close('left');
      throw new AppError('UNAVAILABLE', 'the broadcast moved; join again');
    }
    this.#audience.add(peerId, viewer, key, userId);
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  viewerOf(peerId: string): Viewer | undefined {
    return this.#audience.viewerOf(peerId);
  }

  isParticipant(peerId: string): boolean {
    return this.#audience.has(peerId);
  }

  removeViewer(peerId: string): void {
    const viewer = this.#audience.remove(peerId);
    if (!viewer) return;
    if (!this.#o.media.closed) this.#o.media.removeViewer(peerId);
    else viewer.close('left');
    this.#o.notifier.leave(peerId, this.id);
    if (this.#audience.size === 0) this.#armIdle();
  }

  /** Closes the media (and the pipe with it); emits 'close' once. Idempotent. */
  close(reason: RelayCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    const watching = this.#audience.clear();
    this.#audience.close();
    this.#o.media.close('stopped');
    if (reason === 'origin-closed' || reason === 'origin-lost') {
      for (const peerId of watching) this.#o.notifier.toPeer(peerId, 'broadcast:interrupted', { broadcastId: this.id, reason: 'origin-moved' });
    }
    this.#o.logger.info({ reason, viewers: watching.length }, 'relay closed');
    this.emit('close', reason);
    this.removeAllListeners();
  }

  #armIdle(): void {
    if (this.#idleTimer || this.#closed) return;
    this.#idleTimer = setTimeout(() => this.#idleCheck(), this.#o.idleMs);
    this.#idleTimer.unref();
  }

  /** No viewer for the idle time: closes, unless it feeds other nodes' relays (a relay tree); then looks again later. */
  #idleCheck(): void {
    this.#idleTimer = undefined;
    if (this.#audience.size > 0 || this.#closed) return;
    if (this.#o.media.pipeCount === 0) return this.close('idle');
    this.#idleTimer = setTimeout(() => this.#idleCheck(), Math.max(this.#o.idleMs, 1000));
    this.#idleTimer.unref();
  }
}
