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
  readonly #watchers = new Map<string, (reason: string) => void>();

  static async start(rpc: RedisRpc, queuePrefix: string): Promise<TapEvents> {
    const events = new TapEvents();
    await rpc.subscribe(tapChannels(queuePrefix).closed, (message) => {
      const parsed = TapClosedSchema.safeParse(message);
      if (parsed.success) events.#watchers.get(parsed.data.tapId)?.(parsed.data.reason);
    });
    return events;
  }

  watch(tapId: string): TapWatch {
    let resolve!: (reason: string) => void;
    const reason = new Promise<string>((r) => (resolve = r));
    this.#watchers.set(tapId, resolve);
    return { reason, dispose: () => this.#watchers.delete(tapId) };
  }
}
