import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { ChatSettings, Request, Responses, UserSummary } from '../../common/protocol/events.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { Notifier } from '../live/ports.ts';
import type { Peer } from '../live/Peer.ts';
import type { BroadcastRecord } from '../store/BroadcastStore.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';
import type { Blocking } from './Blocking.ts';
import type { ChatModeration } from './ChatModeration.ts';
import type { ModerationReach } from './ports.ts';

export interface LiveModerationOptions {
  stores: Stores;
  chat: ChatModeration;
  blocking: Blocking;
  reach: Pick<ModerationReach, 'members'>;
  /** Tells a broadcast's clients on every node (chat settings). */
  notifier: Pick<Notifier, 'toBroadcast'>;
  logger: Logger;
}

const notFound = () => new AppError('NOT_FOUND', 'broadcast not found');

/**
 * The moderation requests of the socket layer (one method per event; each authorises its
 * caller): removing a chat message, blocking and unblocking, the viewer list and the chat
 * settings (slow mode, followers-only).
 * Authorisation runs in the live domain's order: signed in (UNAUTHENTICATED), then whether the
 * caller may see the broadcast (NOT_FOUND exactly as for an unknown id; admins see every
 * broadcast), then the broadcaster or an admin (FORBIDDEN), then its state (BROADCAST_ENDED).
 */
export class LiveModeration {
  readonly #o: LiveModerationOptions;

  constructor(o: LiveModerationOptions) {
    this.#o = o;
  }

  async removeMessage(peer: Peer, { messageId }: Request<'chat:remove'>): Promise<Responses['chat:remove']> {
    const user = requireUser(peer, 'sign in to remove chat messages');
    return this.#o.chat.remove(messageId, user);
  }

  async block(peer: Peer, { userId }: Request<'user:block'>): Promise<Responses['user:block']> {
    const user = requireUser(peer, 'sign in to block someone');
    return this.#o.blocking.block(user, userId);
  }

  async unblock(peer: Peer, { userId }: Request<'user:unblock'>): Promise<Responses['user:unblock']> {
    const user = requireUser(peer, 'sign in to unblock someone');
    await this.#o.blocking.unblock(user, userId);
    return {};
  }

  /**
   * Who watches the broadcast, on every node: signed-in viewers by name (one entry per person)
   * and the number of anonymous ones (one per client address, as the viewer count). The
   * broadcaster's own connections are not viewers.
   */
  async viewers(peer: Peer, { broadcastId }: Request<'viewers:list'>): Promise<Responses['viewers:list']> {
    const record = await this.#moderated(peer, broadcastId, 'see who is watching');
    const members = await this.#o.reach.members(broadcastId);
    const people = new Map<string, UserSummary>();
    const anonymous = new Set<string>();
    for (const m of members) {
      if (!m.user) anonymous.add(m.address);
      else if (m.user.id !== record.ownerId) people.set(m.user.id, { id: m.user.id, username: m.user.username });
    }
    const viewers = [...people.values()].sort((a, b) => a.username.localeCompare(b.username, 'en', { sensitivity: 'base' }));
    return { broadcastId, viewers, anonymous: anonymous.size };
  }

  /** Turns slow mode on (one message per `seconds` per person) or off (0), for every viewer at once. */
  async slowMode(peer: Peer, { broadcastId, seconds }: Request<'chat:slow-mode'>): Promise<Responses['chat:slow-mode']> {
    await this.#moderated(peer, broadcastId, 'change the chat settings');
    if (!(await this.#o.stores.moderation.setSlowMode(broadcastId, seconds))) throw notFound();
    this.#o.logger.info({ broadcastId, seconds, by: peer.user?.id }, 'slow mode set');
    return this.#tellSettings(broadcastId);
  }

  /** Turns followers-only chat on or off, for every viewer at once. */
  async followersOnly(peer: Peer, { broadcastId, enabled }: Request<'chat:followers-only'>): Promise<Responses['chat:followers-only']> {
    await this.#moderated(peer, broadcastId, 'change the chat settings');
    if (!(await this.#o.stores.moderation.setFollowersOnly(broadcastId, enabled))) throw notFound();
    this.#o.logger.info({ broadcastId, enabled, by: peer.user?.id }, 'followers-only chat set');
    return this.#tellSettings(broadcastId);
  }

  /** The chat settings as stored now, pushed to the broadcast's clients on every node (`chat:settings`) and answered. */
  async #tellSettings(broadcastId: BroadcastId): Promise<{ broadcastId: BroadcastId } & ChatSettings> {
    const settings = { broadcastId, ...(await this.#o.stores.moderation.chatSettings(broadcastId)) };
    this.#o.notifier.toBroadcast(broadcastId, 'chat:settings', settings);
    return settings;
  }

  /** The live broadcast if the caller moderates it (its owner, or an admin); else the errors in the class comment's order. */
  async #moderated(peer: Peer, broadcastId: BroadcastId, what: string): Promise<BroadcastRecord> {
    const user = requireUser(peer, `sign in to ${what}`);
    const { stores } = this.#o;
    const record = await stores.broadcasts.get(broadcastId);
    if (!record) throw notFound();
    const isOwner = record.ownerId === user.id;
    if (!isOwner && user.role !== 'admin') {
      if (!stores.broadcasts.canView(record, user.id) || (await stores.moderation.isBlocked(record.ownerId, user.id))) throw notFound();
      throw new AppError('FORBIDDEN', `only the broadcaster or an admin can ${what}`);
    }
    if (record.status === 'ended') throw new AppError('BROADCAST_ENDED', 'this broadcast has ended');
    return record;
  }
}

function requireUser(peer: Peer, message: string): UserRecord {
  if (!peer.user) throw new AppError('UNAUTHENTICATED', message);
  return peer.user;
}
