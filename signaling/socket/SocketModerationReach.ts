import { z } from 'zod';
import type { Logger } from '../../common/logger.ts';
import { BroadcastIdSchema, UserIdSchema, type BroadcastId, type UserId } from '../../common/protocol/ids.ts';
import type { AdminEndReason, ModerationReach } from '../moderation/ports.ts';
import { broadcastRoom } from './SocketNotifier.ts';
import type { SpyglassServer } from './SocketGateway.ts';

/** What one node tells the others when a user is blocked (socket.io `serverSideEmit`). */
const EvictSchema = z.strictObject({ ownerId: UserIdSchema, userId: UserIdSchema });
/** What one node tells the others when an admin ends a broadcast or suspends its broadcaster. */
const EndSchema = z.strictObject({ broadcastId: BroadcastIdSchema, reason: z.enum(['ended-by-admin', 'account-suspended']) });

export interface SocketModerationReachOptions {
  /** Several nodes share one socket.io adapter (`socketAdapter: 'redis'`): other nodes must be told too. */
  crossNode: boolean;
  /** This node's live domain: removes a blocked user's connections here (LiveService.evict). */
  evictHere: (ownerId: UserId, userId: UserId) => number;
  /** This node's live domain: closes a broadcast an admin ended if it is on air here (LiveService.endHere). */
  endHere: (broadcastId: BroadcastId, reason: AdminEndReason) => Promise<boolean>;
  logger: Logger;
}

/**
 * Moderation's reach over the connections of every node, through socket.io: the viewer list is
 * the broadcast's room as `fetchSockets` sees it on every node (with the Redis adapter), and a
 * block is applied here at once and on the other nodes by a server-side event
 * (`moderation:evict`), each node removing the user's connections it serves. An admin's end
 * (or a suspension) reaches the node the broadcast is on air on the same way
 * (`moderation:end`), which closes it as its broadcaster's "End" would, with the admin's reason.
 */
export class SocketModerationReach implements ModerationReach {
  readonly #io: SpyglassServer;
  readonly #o: SocketModerationReachOptions;

  constructor(io: SpyglassServer, o: SocketModerationReachOptions) {
    this.#io = io;
    this.#o = o;
    if (o.crossNode) {
      io.on('moderation:evict', (payload: unknown) => {
        // Another node's word, checked like any input before it acts on this node.
        const parsed = EvictSchema.safeParse(payload);
        if (!parsed.success) {
          o.logger.warn('ignored a malformed moderation:evict from another node');
          return;
        }
        o.evictHere(parsed.data.ownerId, parsed.data.userId);
      });
      io.on('moderation:end', (payload: unknown) => {
        const parsed = EndSchema.safeParse(payload);
        if (!parsed.success) {
          o.logger.warn('ignored a malformed moderation:end from another node');
          return;
        }
        const { broadcastId, reason } = parsed.data;
        o.endHere(broadcastId, reason).then(
          (ended) => ended && o.logger.warn({ broadcastId, reason }, 'ended a broadcast here for an admin on another node'),
          (err: unknown) => o.logger.error({ err, broadcastId }, 'could not end a broadcast for an admin on another node'),
        );
      });
    }
  }

  async members(broadcastId: BroadcastId): Promise<Array<{ user: { id: UserId; username: string } | undefined; address: string }>> {
    const sockets = await this.#io.in(broadcastRoom(broadcastId)).fetchSockets();
    return sockets.map((s) => ({
      user: s.data.user ? { id: s.data.user.id, username: s.data.user.username } : undefined,
      address: s.data.address ?? s.handshake.address,
    }));
  }

  evictEverywhere(ownerId: UserId, userId: UserId): void {
    this.#o.evictHere(ownerId, userId);
    if (this.#o.crossNode) this.#io.serverSideEmit('moderation:evict', { ownerId, userId });
  }

  endEverywhere(broadcastId: BroadcastId, reason: AdminEndReason): void {
    if (this.#o.crossNode) this.#io.serverSideEmit('moderation:end', { broadcastId, reason });
  }
}
