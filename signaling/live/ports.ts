import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { ServerToClientEvents } from '../../common/protocol/events.ts';

type Events = ServerToClientEvents;

/** What the live domain needs of the rest of the process, each given to LiveService's constructor. */

/** How the live domain reaches clients; implemented over socket.io rooms by the socket layer. */
export interface Notifier {
  toBroadcast<E extends keyof Events>(broadcastId: BroadcastId, event: E, ...args: Parameters<Events[E]>): void;
  toPeer<E extends keyof Events>(peerId: string, event: E, ...args: Parameters<Events[E]>): void;
  join(peerId: string, broadcastId: BroadcastId): void;
  leave(peerId: string, broadcastId: BroadcastId): void;
  /** Removes every connection from the broadcast's room. */
  clear(broadcastId: BroadcastId): void;
}

/** How the live domain starts and ends recordings (signaling/recording/RecordingService.ts). */
export interface Recorder {
  /** Throws AppError (e.g. INSUFFICIENT_STORAGE) when a new broadcast could not be recorded. */
  assertCanRecord(): Promise<void>;
  /** The broadcast is on air; throws when its recording cannot start. */
  broadcastStarted(id: BroadcastId): Promise<void>;
  /** The broadcast ended (never throws). */
  broadcastEnded(id: BroadcastId): Promise<void>;
}

/** Sunset mode as the live domain sees it: throws AppError('SERVICE_SUNSET') when the action is over. */
export interface SunsetGate {
  assertAllowed(action: 'broadcast' | 'chat' | 'heart'): void;
}
