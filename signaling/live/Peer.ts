import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { RtpCapabilities } from '../../common/protocol/media.ts';
import type { UserRecord } from '../store/UserStore.ts';

/**
 * One signalling connection (a socket): who it is and which broadcasts it is in, by id. The
 * broadcasts themselves hold the media (LiveBroadcast); the LiveService owns every Peer.
 */
export class Peer {
  readonly id: string;
  readonly user: UserRecord | undefined;
  /** The client's address (the socket's remote address, or the proxy's client when trusted). */
  readonly address: string;
  /** The broadcast this connection sends media into, if any. */
  broadcasting: BroadcastId | undefined;
  /** Broadcasts this connection watches. */
  readonly watching = new Set<BroadcastId>();
  /** Broadcasts joined whose first frame the page has not reported yet: one report per join. */
  readonly firstFrameDue = new Set<BroadcastId>();
  /** An encoder's connection (signaling/ingest/): how it sends; undefined for a socket. */
  readonly encoder: 'whip' | 'rtmp' | undefined;
  /**
   * A connection whose device numbers payload types itself (a WHEP player: its offer's
   * capabilities): its viewers are served from routers with those numbers (sfu/payloadNumbering.ts).
   */
  payloadNumbering: RtpCapabilities | undefined;

  constructor(id: string, user: UserRecord | undefined, address: string, encoder?: 'whip' | 'rtmp') {
    this.id = id;
    this.user = user;
    this.address = address;
    this.encoder = encoder;
  }

  /** Who this is for the viewer count: the user when signed in, else the address (one household behind NAT counts once). */
  get viewerKey(): string {
    return this.user ? `u:${this.user.id}` : `a:${this.address}`;
  }

  /** A rate-limit key that follows the person when signed in, else the connection. */
  get actorKey(): string {
    return this.user?.id ?? `peer:${this.id}`;
  }
}
