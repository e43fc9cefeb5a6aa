import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { BroadcastSummary } from '../../common/protocol/events.ts';
import type { Broadcast } from '../../sfu/Broadcast.ts';
import type { BroadcastRecord } from '../store/BroadcastStore.ts';

/**
 * A broadcast that is on air in this process: its stored record, its media side, who
 * sends into it, and its timers. Owned by the LiveService.
 */
export class LiveBroadcast {
  record: BroadcastRecord;
  media: Broadcast;
  /** The peer currently sending media, or undefined while the broadcaster is away. */
  broadcasterPeerId: string | undefined;
  graceTimer: NodeJS.Timeout | undefined;
  countTimer: NodeJS.Timeout | undefined;
  /** Ends the broadcast if no media has arrived by then (`live.noMediaTimeoutSeconds`). */
  noMediaTimer: NodeJS.Timeout | undefined;
  readonly startedAtMs: number;
  /**
   * Who watches, for the public count: one entry per distinct viewer (a signed-in user by id,
   * an anonymous one by address) with the connections it watches through. The broadcaster
   * is never in it.
   */
  readonly #watchers = new Map<string, Set<string>>();

  constructor(record: BroadcastRecord, media: Broadcast, broadcasterPeerId: string) {
    this.record = record;
    this.media = media;
    this.broadcasterPeerId = broadcasterPeerId;
    this.startedAtMs = Date.parse(record.startedAt);
  }

  get id(): BroadcastId {
    return this.record.id;
  }

  /** Milliseconds since the broadcast started: the timeline the replay syncs chat and hearts on. */
  offsetMs(now = Date.now()): number {
    return Math.max(0, now - this.startedAtMs);
  }

  /** Distinct viewers: one client cannot inflate it by opening more connections. */
  get viewerCount(): number {
    return this.#watchers.size;
  }

  /** A connection (`peerId`) of the viewer `key` watches; the owner's connections are not counted. */
  addWatcher(key: string, peerId: string, userId: string | undefined): void {
    if (userId !== undefined && userId === this.record.ownerId) return;
    const peers = this.#watchers.get(key) ?? new Set<string>();
    peers.add(peerId);
    this.#watchers.set(key, peers);
  }

  /** The connection stopped watching (idempotent). */
  removeWatcher(key: string, peerId: string): void {
    const peers = this.#watchers.get(key);
    if (!peers) return;
    peers.delete(peerId);
    if (peers.size === 0) this.#watchers.delete(key);
  }

  /** Nobody watches any more (everyone must rejoin). */
  clearWatchers(): void {
    this.#watchers.clear();
  }

  summary(): BroadcastSummary {
    return toSummary(this.record, this.media.closed ? 0 : this.viewerCount);
  }

  clearTimers(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.countTimer) clearTimeout(this.countTimer);
    if (this.noMediaTimer) clearTimeout(this.noMediaTimer);
    this.graceTimer = undefined;
    this.countTimer = undefined;
    this.noMediaTimer = undefined;
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
  };
}
