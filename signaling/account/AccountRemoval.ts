import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { UserId } from '../../common/protocol/ids.ts';
import type { Storage } from '../../common/storage/Storage.ts';
import { archivePrefix, avatarsPrefix } from '../../common/storage/storageKeys.ts';
import type { ReplayRemoval } from '../replays/ReplayRemoval.ts';
import type { Stores } from '../store/index.ts';

export interface AccountRemovalOptions {
  stores: Stores;
  storage: Storage;
  replays: ReplayRemoval;
  logger: Logger;
}

/**
 * Deletes an account and everything of it (docs/security.md, "Deleting an account"): every
 * broadcast's replay as the owner would (tombstone, files, ReplayRemoval), the archives' files,
 * then, in one transaction, the user row with its sessions, invitations, archives, profile,
 * follows (both ways) and notifications (its own, and others' about it), then its avatar files; its
 * messages in others' broadcasts stay, shown as "deleted user". Its sessions are revoked
 * first, so its sockets close at once. Kept: the audit log (who did what as an admin, and this
 * deletion, by id only) and the replays' tombstones (an id, an owner id, a visibility, a date).
 */
export class AccountRemoval {
  readonly #o: AccountRemovalOptions;

  constructor(o: AccountRemovalOptions) {
    this.#o = o;
  }

  /**
   * Refused with WRONG_STATE while the user is on air, ARCHIVE_IN_PROGRESS while their archive
   * is being built (its job would write a zip afterwards). Returns what was removed.
   */
  async delete(userId: UserId): Promise<{ broadcasts: number; archives: number }> {
    const { stores, storage, logger } = this.#o;
    if (await stores.broadcasts.findLiveByOwner(userId)) throw new AppError('WRONG_STATE', 'you are on air: end your broadcast before deleting your account');
    if ((await stores.archives.latestForUser(userId))?.state === 'building') {
      throw new AppError('ARCHIVE_IN_PROGRESS', 'your archive is being built: download it (or let it finish) before deleting your account');
    }
    await stores.sessions.revokeAllForUser(userId);
    const broadcasts = await stores.broadcasts.listByOwner(userId);
    for (const b of broadcasts) await this.#o.replays.delete(b.id);
    const archives = await stores.archives.idsOfUser(userId);
    await stores.users.deleteAccount(userId);
    // Sessions made meanwhile (a sign-in racing this) went with the user row; revoke tells the sockets.
    await stores.sessions.revokeAllForUser(userId);
    // The profile, follows (both ways) and notifications (theirs, and those about them) went with
    // the user row; the avatar files go now.
    await storage.deletePrefix(avatarsPrefix(userId)).catch((err: unknown) => logger.warn({ err, userId }, 'could not delete the avatars of a deleted account'));
    for (const id of archives) {
      if (!/^a_[A-Za-z0-9_-]{8,40}$/.test(id)) continue;
      await storage.deletePrefix(archivePrefix(id)).catch((err: unknown) => logger.warn({ err, archiveId: id }, 'could not delete the files of a deleted account’s archive'));
    }
    await stores.audit.record(userId, 'account.deleted', { broadcasts: broadcasts.length, archives: archives.length });
    logger.info({ userId, broadcasts: broadcasts.length, archives: archives.length }, 'account deleted');
    return { broadcasts: broadcasts.length, archives: archives.length };
  }
}
