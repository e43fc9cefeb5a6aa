import { z } from 'zod';
import type { Logger } from '../../common/logger.ts';
import { UserIdSchema, type BroadcastId, type UserId } from '../../common/protocol/ids.ts';
import type { ModerationReach } from '../moderation/ports.ts';
import { broadcastRoom } from './SocketNotifier.ts';
import type { SpyglassServer } from './SocketGateway.ts';

/** What one node tells the others when a user is blocked (socket.io `serverSideEmit`). */
const EvictSchema = z.strictObject({ ownerId: UserIdSchema, userId: UserIdSchema });

export interface SocketModerationReachOptions {
  /** Several nodes share one socket.io adapter (`socketAdapter: 'redis'`): other nodes must be told too. */
  crossNode: boolean;
  /** This node's live domain: removes a blocked user's connections here (LiveService.evict). */
  evictHere: (ownerId: UserId, userId: UserId) => number;
  logger: Logger;
}

/**
 * Moderation's reach over the connections of every node, through socket.io: the viewer list is
 * the broadcast's room as `fetchSockets` sees it on every node (with the Redis adapter), and a
 * block is applied here at once and on the other nodes by a server-side event
 * (`moderation:evict`), each node removing the user's connections it serves.
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
}
