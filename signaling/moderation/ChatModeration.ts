import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { BroadcastId, ChatMessageId } from '../../common/protocol/ids.ts';
import type { Notifier } from '../live/ports.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';

export interface ChatModerationOptions {
  stores: Stores;
  /** Tells the broadcast's clients on every node (the socket.io room). */
  notifier: Pick<Notifier, 'toBroadcast'>;
  logger: Logger;
}

/** The one answer for a message id that does not exist or that the caller may not know of. */
const notFound = () => new AppError('NOT_FOUND', 'message not found');

/**
 * Removing chat messages: the one way any code removes one (the broadcaster's `chat:remove`
 * over socket.io, an admin acting on a report). A removed message keeps its row with a mark
 * (who, in what right, when): it leaves the live chat of every viewer at once (`chat:removed`
 * to the broadcast's room, on every node), the replay's chat and every archive but its
 * author's own, where it stays, marked (docs/moderation.md).
 */
export class ChatModeration {
  readonly #o: ChatModerationOptions;

  constructor(o: ChatModerationOptions) {
    this.#o = o;
  }

  /**
   * Removes message `messageId` as `by`: its broadcast's owner, or an admin (any broadcast,
   * live or ended). Idempotent: removing it again answers the same and keeps the first mark.
   * Others get FORBIDDEN when they may see the message (a viewer of that broadcast), else
   * NOT_FOUND exactly as for an unknown id (a hidden broadcast, a blocked viewer, a message
   * already removed).
   */
  async remove(messageId: ChatMessageId, by: UserRecord): Promise<{ broadcastId: BroadcastId; messageId: ChatMessageId }> {
    const { stores } = this.#o;
    const message = await stores.moderation.message(messageId);
    if (!message) throw notFound();
    const isOwner = message.ownerId === by.id;
    if (!isOwner && by.role !== 'admin') {
      const broadcast = await stores.broadcasts.get(message.broadcastId);
      const sees =
        broadcast !== undefined &&
        message.removal === null &&
        stores.broadcasts.canView(broadcast, by.id) &&
        !(await stores.moderation.isBlocked(broadcast.ownerId, by.id));
      if (!sees) throw notFound();
      throw new AppError('FORBIDDEN', 'only the broadcaster or an admin can remove a message');
    }
    const as = isOwner ? 'broadcaster' : 'admin';
    const removed = await stores.moderation.removeMessage(messageId, by.id, as);
    // Gone meanwhile with its broadcast (a deleted replay, a deleted account).
    if (!removed) throw notFound();
    const first = message.removal === null;
    if (first) {
      if (as === 'admin') {
        await stores.audit.record(by.id, 'chat.remove', { messageId, broadcastId: message.broadcastId, authorId: message.authorId });
      }
      this.#o.logger.info({ messageId, broadcastId: message.broadcastId, by: by.id, as }, 'chat message removed');
    }
    // Told again on a repeat: a client that missed the first push drops it now.
    this.#o.notifier.toBroadcast(message.broadcastId, 'chat:removed', { broadcastId: message.broadcastId, messageId });
    return { broadcastId: message.broadcastId, messageId };
  }
}
