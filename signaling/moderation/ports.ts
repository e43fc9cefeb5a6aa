import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import type { UserSummary } from '../../common/protocol/events.ts';

/** What moderation needs of the connections, over every node (signaling/socket/SocketModerationReach.ts). */
export interface ModerationReach {
  /**
   * The connections in a broadcast's room on every node (viewers and the broadcaster's own):
   * who each is (undefined: anonymous) and its client address.
   */
  members(broadcastId: BroadcastId): Promise<Array<{ user: UserSummary | undefined; address: string }>>;
  /**
   * `userId` was blocked by `ownerId`: every node removes that user's connections from the
   * owner's broadcasts it serves (LiveService.evict), this one at once, the others through the
   * socket.io adapter.
   */
  evictEverywhere(ownerId: UserId, userId: UserId): void;
  /**
   * An admin ended the broadcast (or suspended its broadcaster) and it is marked ended: every
   * other node closes it at once if it is on air there (LiveService.endHere), telling its
   * viewers and broadcaster `reason`. The caller has dealt with this node.
   */
  endEverywhere(broadcastId: BroadcastId, reason: AdminEndReason): void;
}

/** Why an admin's action ended a broadcast. */
export type AdminEndReason = 'ended-by-admin' | 'account-suspended';
