import type { Logger } from '../../common/logger.ts';
import type { UserId } from '../../common/protocol/ids.ts';
import type { NotificationView } from '../../common/protocol/profiles.ts';
import type { GoLiveListener } from '../live/ports.ts';
import type { BroadcastRecord } from '../store/BroadcastStore.ts';
import type { Stores } from '../store/index.ts';
import { newNotificationId } from '../store/newIds.ts';
import { personOf } from './Profiles.ts';

/** Followers read and told per round. */
const PAGE = 1000;

export interface LiveNotificationsOptions {
  stores: Stores;
  /** Pushes a notification to every connection of these users (socket.io rooms `u:<id>`: every node with the Redis adapter). */
  push: (userIds: readonly UserId[], notification: NotificationView) => void;
  logger: Logger;
}

/**
 * When someone goes live, each follower who may watch the broadcast (all of them for a public
 * one; for a private one only those invited) gets a stored notification and, on every open
 * page, `notification:new`. Runs beside the go-live (never delays or fails it); `close()`
 * waits for the rounds under way.
 */
export class LiveNotifications implements GoLiveListener {
  readonly #o: LiveNotificationsOptions;
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(o: LiveNotificationsOptions) {
    this.#o = o;
  }

  broadcastStarted(broadcast: BroadcastRecord): void {
    if (this.#closed) return;
    const run = this.#notify(broadcast).catch((err: unknown) => this.#o.logger.error({ err, broadcastId: broadcast.id }, 'could not notify the followers of a broadcast'));
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  /** Resolves once every notification round under way has finished. */
  async idle(): Promise<void> {
    await Promise.all([...this.#running]);
  }

  async #notify(b: BroadcastRecord): Promise<void> {
    const { stores, push } = this.#o;
    const actor = await stores.profiles.get(b.ownerId);
    if (!actor) return;
    const id = newNotificationId();
    let after: UserId | null = null;
    let told = 0;
    for (;;) {
      const followers = await stores.follows.followerIds(b.ownerId, after, PAGE);
      const recipients = followers.filter((u) => stores.broadcasts.canView(b, u));
      if (recipients.length > 0) {
        const { added, createdAt } = await stores.notifications.addLive({ id, actorId: b.ownerId, broadcastId: b.id, recipients });
        // Nothing stored: the broadcast (or the account) is gone already; nothing to tell.
        if (added === 0) return;
        push(recipients, { id, kind: 'live', actor: personOf(actor), broadcast: { id: b.id, title: b.title }, createdAt, read: false });
        told += recipients.length;
      }
      const last = followers[followers.length - 1];
      if (followers.length < PAGE || last === undefined) break;
      after = last;
    }
    if (told > 0) this.#o.logger.info({ broadcastId: b.id, followers: told }, 'followers notified');
  }

  /** Waits for the rounds under way; later go-lives notify nobody. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.idle();
  }
}
