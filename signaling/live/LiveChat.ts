import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { ChatMessage } from '../../common/protocol/events.ts';
import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';
import type { RateLimits, Throttle } from '../throttle/RateLimits.ts';
import { HeartAggregator } from './HeartAggregator.ts';
import type { Notifier } from './ports.ts';

/** What chat and hearts need of a broadcast on air here (as its origin or as a relay). */
export interface ChatRoom {
  readonly id: BroadcastId;
  /** Its broadcaster, who is not held to the broadcast's slow mode or followers-only chat. */
  readonly record: { readonly ownerId: UserId };
  /** Milliseconds since the broadcast started (the replay's timeline). */
  offsetMs(): number;
}

export interface LiveChatOptions {
  stores: Stores;
  notifier: Notifier;
  logger: Logger;
  /** Where the chat and heart counters live (Redis: the limits hold across nodes). */
  rateLimits: RateLimits;
  /** Chat messages per person per broadcast: `chatBurst` per `chatWindowSeconds` (whole seconds). */
  chatBurst: number;
  chatWindowSeconds: number;
  /** Hearts per person (anonymous: per connection) per broadcast and second. */
  heartsPerSecond: number;
  /** Hearts are summed and sent (and stored) once per this interval. */
  heartFlushMs: number;
  /** The broadcast on air here, for hearts flushed after they were sent. */
  onAir: (id: BroadcastId) => ChatRoom | undefined;
}

/**
 * Chat and hearts of the live broadcasts, with their rate limits: a message is stored at its
 * offset on the broadcast's timeline (the replay shows it there) and pushed to the broadcast's
 * room; hearts are summed per broadcast and pushed and stored once per interval. Callers have
 * authorised the sender (LiveService). The limits are fixed windows counted in Redis
 * (RateLimits), so a person has one allowance whatever node they reach the broadcast through;
 * the counters lapse with their window, so nothing is forgotten when a broadcast ends.
 *
 * Slow mode (a broadcast's setting, read from the database so every node enforces the same):
 * one message per N seconds per person, on top of the chat limit; the broadcaster and admins
 * are not held to it. Each N is a limit of its own (`slow-<N>`: one point per N s).
 * Followers-only (a setting stored the same way): only those who follow the broadcaster may
 * chat; the broadcaster and admins always may.
 */
export class LiveChat {
  readonly #o: LiveChatOptions;
  readonly #chatLimit: Throttle;
  readonly #heartLimit: Throttle;
  readonly #hearts: HeartAggregator<BroadcastId>;
  /** One limit per slow-mode setting in use, made on first use. */
  readonly #slowLimits = new Map<number, Throttle>();

  constructor(o: LiveChatOptions) {
    this.#o = o;
    this.#chatLimit = o.rateLimits.create(
      'chat',
      { points: o.chatBurst, durationSeconds: o.chatWindowSeconds },
      `slow down: at most ${o.chatBurst} messages per ${o.chatWindowSeconds} s`,
    );
    this.#heartLimit = o.rateLimits.create('hearts', { points: o.heartsPerSecond, durationSeconds: 1 }, `slow down: at most ${o.heartsPerSecond} hearts per second`);
    this.#hearts = new HeartAggregator(o.heartFlushMs, (id, count) => this.#flushHearts(id, count));
  }

  /**
   * Stores and pushes a message; throws RateLimitedError (RATE_LIMITED) past the sender's
   * allowance, and FOLLOWERS_ONLY from someone who does not follow the broadcaster while the
   * chat is for followers only.
   */
  async send(live: ChatRoom, user: UserRecord, text: string): Promise<ChatMessage> {
    if (user.id !== live.record.ownerId && user.role !== 'admin') {
      const { stores } = this.#o;
      const settings = await stores.moderation.chatSettings(live.id);
      // Before slow mode: a refused message does not cost the sender their turn.
      if (settings.followersOnly && !(await stores.follows.isFollowing(user.id, live.record.ownerId))) {
        throw new AppError('FOLLOWERS_ONLY', 'this chat is for followers only: follow the broadcaster to chat');
      }
      if (settings.slowModeSeconds > 0) await this.#slowLimit(settings.slowModeSeconds).take(`${live.id}:${user.id}`);
    }
    await this.#chatLimit.take(`${live.id}:${user.id}`);
    const message = await this.#o.stores.chat.add({ broadcastId: live.id, userId: user.id, text, offsetMs: live.offsetMs() });
    this.#o.notifier.toBroadcast(live.id, 'chat:message', message);
    return message;
  }

  /**
   * Counts a heart for the next flush; throws RateLimitedError (RATE_LIMITED) past the
   * allowance. `actorKey`: the person when signed in, else the connection.
   */
  async heart(live: ChatRoom, actorKey: string): Promise<void> {
    await this.#heartLimit.take(`${live.id}:${actorKey}`);
    this.#hearts.add(live.id);
  }

  /** The broadcast is ending: its pending hearts go out now, while its room still listens. */
  ending(): void {
    this.#hearts.flushNow();
  }

  close(): void {
    this.#hearts.close();
  }

  #slowLimit(seconds: number): Throttle {
    let limit = this.#slowLimits.get(seconds);
    if (!limit) {
      limit = this.#o.rateLimits.create(`slow-${seconds}`, { points: 1, durationSeconds: seconds }, `slow mode: one message every ${seconds} s`);
      this.#slowLimits.set(seconds, limit);
    }
    return limit;
  }

  #flushHearts(id: BroadcastId, count: number): void {
    const live = this.#o.onAir(id);
    if (!live) return;
    this.#o.notifier.toBroadcast(id, 'hearts', { broadcastId: id, count });
    this.#o.stores.chat.addHearts(id, live.offsetMs(), count).catch((err: unknown) => {
      this.#o.logger.error({ err, broadcastId: id }, 'could not store hearts');
    });
  }
}
