import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { Viewer } from '../../sfu/Viewer.ts';
import type { UserRecord } from '../store/UserStore.ts';

/**
 * One signalling connection (a socket): who it is and what it is doing. A peer may
 * broadcast one broadcast and watch several; the LiveService owns every Peer.
 */
export class Peer {
  readonly id: string;
  readonly user: UserRecord | undefined;
  /** The broadcast this connection sends media into, if any. */
  broadcasting: BroadcastId | undefined;
  /** Broadcasts this connection watches, with its media-side viewer in each. */
  readonly viewing = new Map<BroadcastId, Viewer>();

  constructor(id: string, user: UserRecord | undefined) {
    this.id = id;
    this.user = user;
  }

  /** A rate-limit key that follows the person when signed in, else the connection. */
  get actorKey(): string {
    return this.user?.id ?? `peer:${this.id}`;
  }
}
