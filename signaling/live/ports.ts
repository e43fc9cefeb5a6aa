import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { ServerToClientEvents } from '../../common/protocol/events.ts';
import type { JoinRedirect } from '../../common/protocol/errors.ts';
import type { BroadcastRecord } from '../store/BroadcastStore.ts';

type Events = ServerToClientEvents;

/** What the live domain needs of the rest of the process, each given to LiveService's constructor. */

/** How the live domain reaches clients; implemented over socket.io rooms by the socket layer. */
export interface Notifier {
  /** To the broadcast's connections on every node (chat, hearts, status, its end). */
  toBroadcast<E extends keyof Events>(broadcastId: BroadcastId, event: E, ...args: Parameters<Events[E]>): void;
  /**
   * To the broadcast's connections on this node only: what depends on the node a client is
   * served by (its media: new producers, interruptions; and the count this node added up).
   */
  toBroadcastHere<E extends keyof Events>(broadcastId: BroadcastId, event: E, ...args: Parameters<Events[E]>): void;
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
  /** The broadcast was taken over here from a dead origin: its recorder must ask this node for its tap (never throws). */
  broadcastMoved(id: BroadcastId): void;
}

/** Hears that a broadcast went live (signaling/profiles/LiveNotifications.ts tells the followers). Never throws; never delays the go-live. */
export interface GoLiveListener {
  broadcastStarted(broadcast: BroadcastRecord): void;
}

/** Sunset mode as the live domain sees it: throws AppError('SERVICE_SUNSET') when the action is over. */
export interface SunsetGate {
  assertAllowed(action: 'broadcast' | 'chat' | 'heart'): void;
}

/** Adds up a broadcast's viewer counts over the nodes that serve it (signaling/cluster/RedisViewerTally.ts). */
export interface ViewerTally {
  /** Whether other nodes count too (their changes must be picked up by polling). */
  readonly shared: boolean;
  /** This node counts `localCount` viewers of `broadcastId`; resolves to the total over nodes. */
  report(broadcastId: BroadcastId, localCount: number): Promise<number>;
  /** This node no longer serves `broadcastId`. */
  withdraw(broadcastId: BroadcastId): Promise<void>;
}

/** Several nodes: where a join goes instead when this node is loaded (signaling/cluster/JoinRedirects.ts). */
export interface JoinRedirector {
  /** Another node to join on, or undefined to serve the join here. Never throws. */
  target(): Promise<JoinRedirect | undefined>;
}

/** The one-host tally: this node's count is the count. */
export const localTally: ViewerTally = {
  shared: false,
  report: (_id, localCount) => Promise.resolve(localCount),
  withdraw: () => Promise.resolve(),
};
