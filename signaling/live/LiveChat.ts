import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { ChatMessage } from '../../common/protocol/events.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';
import { HeartAggregator } from './HeartAggregator.ts';
import type { Notifier } from './ports.ts';
import { RateLimiter } from './RateLimiter.ts';

/** What chat and hearts need of a broadcast on air here (as its origin or as a relay). */
export interface ChatRoom {
  readonly id: BroadcastId;
  /** Milliseconds since the broadcast started (the replay's timeline). */
  offsetMs(): number;
}

export interface LiveChatOptions {
  stores: Stores;
  notifier: Notifier;
  logger: Logger;
  /** Chat messages per person per broadcast: `chatBurst` per `chatWindowSeconds`. */
  chatBurst: number;
  chatWindowSeconds: number;
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
 * authorised the sender (LiveService).
 */
export class LiveChat {
  readonly #o: LiveChatOptions;
  readonly #chatLimiter: RateLimiter;
  readonly #heartLimiter: RateLimiter;
  readonly #hearts: HeartAggregator<BroadcastId>;

  constructor(o: LiveChatOptions) {
    this.#o = o;
    this.#chatLimiter = new RateLimiter(o.chatBurst, o.chatWindowSeconds * 1000);
    this.#heartLimiter = new RateLimiter(o.heartsPerSecond, 1000);
    this.#hearts = new HeartAggregator(o.heartFlushMs, (id, count) => this.#flushHearts(id, count));
  }

  async send(live: ChatRoom, user: UserRecord, text: string): Promise<ChatMessage> {
    if (!this.#chatLimiter.take(`${live.id}:${user.id}`)) {
      throw new AppError('RATE_LIMITED', `slow down: at most ${this.#o.chatBurst} messages per ${this.#o.chatWindowSeconds} s`);
    }
    const message = await this.#o.stores.chat.add({ broadcastId: live.id, userId: user.id, text, offsetMs: live.offsetMs() });
    this.#o.notifier.toBroadcast(live.id, 'chat:message', message);
    return message;
  }

  /** `actorKey`: the person when signed in, else the connection. */
  heart(live: ChatRoom, actorKey: string): void {
    if (!this.#heartLimiter.take(`${live.id}:${actorKey}`)) {
      throw new AppError('RATE_LIMITED', `slow down: at most ${this.#o.heartsPerSecond} hearts per second`);
    }
    this.#hearts.add(live.id);
  }

  /** The broadcast is ending: its pending hearts go out now, while its room still listens. */
  ending(): void {
    this.#hearts.flushNow();
  }

  /** The broadcast ended: its rate-limit counters are forgotten. */
  ended(id: BroadcastId): void {
    this.#chatLimiter.forget(`${id}:`);
    this.#heartLimiter.forget(`${id}:`);
  }

  close(): void {
    this.#hearts.close();
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
