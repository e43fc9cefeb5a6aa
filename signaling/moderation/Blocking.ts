import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { UserSummary } from '../../common/protocol/events.ts';
import type { UserId } from '../../common/protocol/ids.ts';
import type { Stores } from '../store/index.ts';
import type { BlockEntry } from '../store/ModerationStore.ts';
import { DELETED_USER_ID, type UserRecord } from '../store/UserStore.ts';
import type { ModerationReach } from './ports.ts';

export interface BlockingOptions {
  stores: Stores;
  /** Removes a newly blocked user from the owner's broadcasts on every node. */
  reach: Pick<ModerationReach, 'evictEverywhere'>;
  logger: Logger;
}

const unknownUser = () => new AppError('NOT_FOUND', 'user not found');

/**
 * A broadcaster's block list. A blocked user cannot chat, send hearts, or join any of the
 * broadcaster's broadcasts or replays, now and later: every such door asks `isBlocked` and
 * answers NOT_FOUND, as for a broadcast that does not exist; blocking also removes them at
 * once from the owner's broadcasts they are watching, on every node. The caller is signed in
 * (the socket and HTTP layers check).
 */
export class Blocking {
  readonly #o: BlockingOptions;

  constructor(o: BlockingOptions) {
    this.#o = o;
  }

  /** Whether `ownerId` blocked `userId` (never true for oneself): the one check for every door. */
  isBlocked(ownerId: UserId, userId: UserId): Promise<boolean> {
    return this.#o.stores.moderation.isBlocked(ownerId, userId);
  }

  /**
   * `owner` blocks `userId` (idempotent). VALIDATION_FAILED for oneself, NOT_FOUND for an
   * unknown user.
   */
  async block(owner: UserRecord, userId: UserId): Promise<{ user: UserSummary }> {
    if (userId === owner.id) throw new AppError('VALIDATION_FAILED', 'you cannot block yourself');
    const user = userId === DELETED_USER_ID ? undefined : await this.#o.stores.users.findById(userId);
    if (!user) throw unknownUser();
    await this.#o.stores.moderation.block(owner.id, user.id);
    // A blocked user does not follow the one who blocked them (Profiles refuses a new follow).
    await this.#o.stores.follows.unfollow(user.id, owner.id);
    this.#o.reach.evictEverywhere(owner.id, user.id);
    this.#o.logger.info({ ownerId: owner.id, userId: user.id }, 'user blocked');
    return { user: { id: user.id, username: user.username } };
  }

  /** `owner` blocks the user named `username` (case-insensitive); as `block`. */
  async blockByUsername(owner: UserRecord, username: string): Promise<{ user: UserSummary }> {
    const user = await this.#o.stores.users.findByUsername(username);
    if (!user) throw unknownUser();
    return this.block(owner, user.id);
  }

  /** `owner` lets `userId` back in; NOT_FOUND when they were not blocked. */
  async unblock(owner: UserRecord, userId: UserId): Promise<void> {
    if (!(await this.#o.stores.moderation.unblock(owner.id, userId))) throw new AppError('NOT_FOUND', 'this user is not on your block list');
    this.#o.logger.info({ ownerId: owner.id, userId }, 'user unblocked');
  }

  /** Whom `owner` blocked, newest first. */
  list(owner: UserRecord): Promise<BlockEntry[]> {
    return this.#o.stores.moderation.listBlocked(owner.id);
  }
}
