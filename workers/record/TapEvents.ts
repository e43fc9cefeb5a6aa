import type { RedisRpc } from '../../common/redisRpc.ts';
import { TapClosedSchema, tapChannels } from '../../common/jobs/tap.ts';

/** A watch on one tap: resolves with the reason the SFU closed it. */
export interface TapWatch {
  reason: Promise<string>;
  dispose(): void;
}

/**
 * The SFU's announcements of closed taps (one subscription per workers process), handed to
 * the run recording on that tap. A close announced before the watch began is caught by the
 * run's next heartbeat instead (the SFU answers 'closed' with the reason).
 */
export class TapEvents {
  readonly #watchers = new Map<string, { broadcastId: string; resolve: (reason: string) => void }>();

  static async start(rpc: RedisRpc, queuePrefix: string): Promise<TapEvents> {
    const events = new TapEvents();
    await rpc.subscribe(tapChannels(queuePrefix).closed, (message) => {
      const parsed = TapClosedSchema.safeParse(message);
      if (!parsed.success) return;
      const { tapId, broadcastId, reason } = parsed.data;
      if (tapId !== undefined) events.#watchers.get(tapId)?.resolve(reason);
      else for (const w of events.#watchers.values()) if (w.broadcastId === broadcastId) w.resolve(reason);
    });
    return events;
  }

  /** Resolves when tap `tapId` closes, or every tap of `broadcastId` does ('origin-moved'). */
  watch(tapId: string, broadcastId: string): TapWatch {
    let resolve!: (reason: string) => void;
    const reason = new Promise<string>((r) => (resolve = r));
    this.#watchers.set(tapId, { broadcastId, resolve });
    return { reason, dispose: () => this.#watchers.delete(tapId) };
  }
}
