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
  readonly startedAtMs: number;

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

  summary(): BroadcastSummary {
    return toSummary(this.record, this.media.closed ? 0 : this.media.viewerCount);
  }

  clearTimers(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.countTimer) clearTimeout(this.countTimer);
    this.graceTimer = undefined;
    this.countTimer = undefined;
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
