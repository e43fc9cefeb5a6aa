import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { Notifier } from '../live/ports.ts';
import type { SpyglassServer } from './SocketGateway.ts';

/** The socket.io room of a broadcast's connections. */
export const broadcastRoom = (broadcastId: BroadcastId): string => `b:${broadcastId}`;
const room = broadcastRoom;

/**
 * How the live domain reaches its clients, over socket.io rooms: one room per broadcast, and
 * each connection's own room (its socket id, the peer id). Built before the live domain and
 * given to it; with a cross-node adapter, a room reaches every node.
 */
export class SocketNotifier implements Notifier {
  readonly #io: SpyglassServer;

  constructor(io: SpyglassServer) {
    this.#io = io;
  }

  toBroadcast: Notifier['toBroadcast'] = (id, event, ...args) => void this.#io.to(room(id)).emit(event, ...args);
  toBroadcastHere: Notifier['toBroadcastHere'] = (id, event, ...args) => void this.#io.local.to(room(id)).emit(event, ...args);
  toPeer: Notifier['toPeer'] = (peerId, event, ...args) => void this.#io.to(peerId).emit(event, ...args);
  join(peerId: string, id: BroadcastId): void {
    this.#io.in(peerId).socketsJoin(room(id));
  }
  leave(peerId: string, id: BroadcastId): void {
    this.#io.in(peerId).socketsLeave(room(id));
  }
  clear(id: BroadcastId): void {
    this.#io.in(room(id)).socketsLeave(room(id));
  }
}
