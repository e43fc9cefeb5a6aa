import { randomBytes } from 'node:crypto';
import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import type { FollowState, PersonSummary, Profile, ProfileChange } from '../../common/protocol/profiles.ts';
import type { Storage } from '../../common/storage/Storage.ts';
import { avatarKey, avatarPrefix, avatarsPrefix } from '../../common/storage/storageKeys.ts';
import type { Stores } from '../store/index.ts';
import type { ProfileRecord } from '../store/ProfileStore.ts';
import type { UserRecord } from '../store/UserStore.ts';
import type { AvatarImages } from './AvatarImages.ts';

/** The one answer for an unknown username, a malformed one and a deleted account. */
export const userNotFound = (): AppError => new AppError('NOT_FOUND', 'user not found');

/** A stored avatar's version: 16 base64url characters, new at every upload. */
export const AVATAR_VERSION = /^[A-Za-z0-9_-]{16}$/;

/** Where a profile's avatar is served: the uploaded one (its version in the name: cached for good), else the generated one. */
export function avatarUrl(p: { id: UserId; avatar: string | null }): string {
  return p.avatar !== null ? `/api/avatars/${p.id}/${p.avatar}.jpg` : `/api/avatars/${p.id}/default.svg`;
}

/** What lists show of a person. */
export function personOf(p: { id: UserId; username: string; displayName: string | null; avatar: string | null }): PersonSummary {
  return { id: p.id, username: p.username, displayName: p.displayName, avatarUrl: avatarUrl(p) };
}

export interface ProfilesOptions {
  stores: Stores;
  /** Where avatars are stored (`avatars/<userId>/<version>/avatar.jpg`), as media are. */
  storage: Storage;
  /** Checks and resizes uploads (ffprobe, ffmpeg). */
  images: AvatarImages;
  /** The viewer count of a broadcast on air on this node (0 elsewhere). */
  viewerCount: (id: BroadcastId) => number;
  logger: Logger;
}

/**
 * Profiles and following: what a profile shows to whom, editing one's own (display name, bio,
 * avatar), and following. Authorisation is here, not in the routes: every method takes the
 * caller. Following goes through `follow` alone, the one place that decides who may follow
 * whom (blocked and suspended users will be refused there).
 */
export class Profiles {
  readonly #o: ProfilesOptions;

  constructor(o: ProfilesOptions) {
    this.#o = o;
  }

  /** The profile of `username` as `viewer` (undefined: anonymous) sees it. NOT_FOUND for unknown or deleted accounts. */
  async view(username: string, viewer: UserRecord | undefined): Promise<Profile> {
    const p = await this.find(username);
    return this.#viewOf(p, viewer);
  }

  /** The account behind a username; NOT_FOUND (the one answer) when there is none. */
  async find(username: string): Promise<ProfileRecord> {
    const p = await this.#o.stores.profiles.findByUsername(username);
    if (!p) throw userNotFound();
    return p;
  }

  async #viewOf(p: ProfileRecord, viewer: UserRecord | undefined): Promise<Profile> {
    const { stores } = this.#o;
    const [counts, live, followed] = await Promise.all([
      stores.follows.counts(p.id),
      stores.broadcasts.findLiveByOwner(p.id),
      viewer !== undefined && viewer.id !== p.id ? stores.follows.isFollowing(viewer.id, p.id) : Promise.resolve(null),
    ]);
    // A private broadcast shows only to those who may watch it: to anyone else they are not live.
    const shown = live && stores.broadcasts.canView(live, viewer?.id) ? live : undefined;
    return {
      ...personOf(p),
      bio: p.bio,
      joinedAt: p.createdAt,
      followers: counts.followers,
      following: counts.following,
      live: shown ? { id: shown.id, title: shown.title, startedAt: shown.startedAt, viewerCount: this.#o.viewerCount(shown.id) } : null,
      followedByYou: followed,
    };
  }

  /** The caller's own profile. */
  async own(user: UserRecord): Promise<Profile> {
    const p = await this.#o.stores.profiles.get(user.id);
    if (!p) throw new AppError('UNAUTHENTICATED', 'your account no longer exists');
    return this.#viewOf(p, user);
  }

  /** Changes the caller's display name and/or bio (validated by ProfileChangeSchema). */
  async update(user: UserRecord, change: ProfileChange): Promise<Profile> {
    const p = await this.#o.stores.profiles.update(user.id, { displayName: change.displayName, bio: change.bio });
    if (!p) throw new AppError('UNAUTHENTICATED', 'your account no longer exists');
    return this.#viewOf(p, user);
  }

  /**
   * Makes `upload` the caller's avatar: checked and resized (AvatarImages), stored under a new
   * version, then the profile points at it and the previous version's file is removed.
   */
  async setAvatar(user: UserRecord, upload: Buffer): Promise<Profile> {
    const { stores, storage, images, logger } = this.#o;
    const image = await images.toJpeg(upload);
    const version = randomBytes(12).toString('base64url');
    try {
      await storage.putFile(avatarKey(user.id, version), image.path);
    } finally {
      await image.release();
    }
    const set = await stores.profiles.setAvatar(user.id, version);
    if (!set) {
      // The account went meanwhile: so does the file.
      await storage.deletePrefix(avatarPrefix(user.id, version)).catch((err: unknown) => logger.warn({ err, userId: user.id }, 'could not remove an avatar'));
      throw new AppError('UNAUTHENTICATED', 'your account no longer exists');
    }
    await this.#removeVersion(user.id, set.previous);
    return this.own(user);
  }

  /** Back to the generated avatar; the uploaded one's file is removed. Idempotent. */
  async removeAvatar(user: UserRecord): Promise<Profile> {
    const set = await this.#o.stores.profiles.setAvatar(user.id, null);
    if (!set) throw new AppError('UNAUTHENTICATED', 'your account no longer exists');
    await this.#removeVersion(user.id, set.previous);
    return this.own(user);
  }

  async #removeVersion(userId: UserId, version: string | null): Promise<void> {
    if (version === null || !AVATAR_VERSION.test(version)) return;
    await this.#o.storage.deletePrefix(avatarPrefix(userId, version)).catch((err: unknown) => this.#o.logger.warn({ err, userId }, 'could not remove a replaced avatar'));
  }

  /** Every avatar file of a user (account deletion). */
  async removeAllAvatars(userId: UserId): Promise<void> {
    await this.#o.storage.deletePrefix(avatarsPrefix(userId));
  }

  /**
   * `follower` follows `username`. Idempotent. NOT_FOUND for an unknown or deleted account,
   * VALIDATION_FAILED for oneself.
   */
  async follow(follower: UserRecord, username: string): Promise<FollowState> {
    const followee = await this.find(username);
    await this.#assertMayFollow(follower, followee);
    await this.#o.stores.follows.follow(follower.id, followee.id);
    return this.#state(follower, followee);
  }

  /** `follower` stops following `username`. Idempotent. */
  async unfollow(follower: UserRecord, username: string): Promise<FollowState> {
    const followee = await this.find(username);
    await this.#o.stores.follows.unfollow(follower.id, followee.id);
    return this.#state(follower, followee);
  }

  /**
   * Who may follow whom: the one place for it. Today: anyone signed in, anyone but themselves.
   * Blocking and suspension (docs/security.md) add their refusals here.
   */
  /**
   * The one check before a follow: never oneself; a suspended account follows no one; a user
   * the followee blocked cannot follow them (FORBIDDEN: their profile stays public).
   */
  async #assertMayFollow(follower: UserRecord, followee: ProfileRecord): Promise<void> {
    if (follower.id === followee.id) throw new AppError('VALIDATION_FAILED', 'you cannot follow yourself');
    const { stores } = this.#o;
    const suspension = await stores.suspensions.get(follower.id);
    if (suspension) throw new AppError('SUSPENDED', `your account is suspended: ${suspension.reason}`);
    if (await stores.moderation.isBlocked(followee.id, follower.id)) throw new AppError('FORBIDDEN', 'this user has blocked you: you cannot follow them');
  }

  async #state(follower: UserRecord, followee: ProfileRecord): Promise<FollowState> {
    const [following, counts] = await Promise.all([this.#o.stores.follows.isFollowing(follower.id, followee.id), this.#o.stores.follows.counts(followee.id)]);
    return { following, followers: counts.followers };
  }
}
