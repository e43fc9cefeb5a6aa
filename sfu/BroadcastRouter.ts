import type { types as ms } from 'mediasoup';
import type { MediaWorker } from './MediaWorker.ts';
import { TypedEmitter } from './TypedEmitter.ts';

/** What a {@link Viewer} may see of the router it is attached to. */
export interface ViewerRoute {
  readonly router: ms.Router;
  /** The WebRtcServer of the router's worker: viewer transports share its port. */
  readonly webRtcServer: ms.WebRtcServer;
  readonly workerIndex: number;
  readonly workerPid: number;
  /** The broadcast's producers as seen on this router: origin producer id → local producer. */
  producers(): ReadonlyMap<string, ms.Producer>;
}

/**
 * What an observer (a test, a benchmark) sees of one of a broadcast's routers
 * (`Broadcast.routers`, `Broadcast.observer`): the mediasoup router and the broadcast's
 * producers as copied onto it. Watch them; never change them.
 */
export interface BroadcastRouterView extends ViewerRoute {
  readonly role: 'origin' | 'edge';
  readonly closed: boolean;
  /** Viewers attached to this router. */
  readonly viewerCount: number;
}

/** Why a {@link BroadcastRouter} closed: its worker died, or its owner closed it. */
export type BroadcastRouterCloseReason = 'worker-died' | 'closed';

export type BroadcastRouterEvents = {
  close: [reason: BroadcastRouterCloseReason];
};

/**
 * One router of a broadcast: the origin (where the broadcaster produces) or an edge (fed
 * from the origin with pipeToRouter). On an edge the local producers are the pipe
 * producers, whose ids may differ from the origin's, so they are keyed by the origin id.
 */
export class BroadcastRouter extends TypedEmitter<BroadcastRouterEvents> implements BroadcastRouterView {
  readonly role: 'origin' | 'edge';
  readonly router: ms.Router;
  readonly mediaWorker: MediaWorker;
  /** Viewers attached; maintained by the owning Broadcast. */
  viewerCount = 0;
  readonly #producers = new Map<string, ms.Producer>();
  /** Origin producer ids being piped here, so that one producer is never piped twice. */
  readonly #piping = new Set<string>();
  #closed = false;

  /** An edge for viewers that number payload types themselves (sfu/payloadNumbering.ts): the numbering's key; undefined for every other router. */
  readonly numbering: string | undefined;

  constructor(role: 'origin' | 'edge', mediaWorker: MediaWorker, router: ms.Router, onListenerError: (event: string, error: unknown) => void, numbering?: string) {
    super(onListenerError);
    this.role = role;
    this.numbering = numbering;
    this.mediaWorker = mediaWorker;
    this.router = router;
    // mediasoup closes the router (and everything on it) when its worker dies.
    router.on('workerclose', () => this.#closeWith('worker-died'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  get webRtcServer(): ms.WebRtcServer {
    return this.mediaWorker.webRtcServer;
  }

  get workerIndex(): number {
    return this.mediaWorker.index;
  }

  get workerPid(): number {
    return this.mediaWorker.pid;
  }

  producers(): ReadonlyMap<string, ms.Producer> {
    return this.#producers;
  }

  /** Records `producer` as this router's copy of origin producer `originId`; forgets it when it closes. */
  addProducer(originId: string, producer: ms.Producer): void {
    this.#producers.set(originId, producer);
    producer.observer.once('close', () => {
      if (this.#producers.get(originId) === producer) this.#producers.delete(originId);
    });
  }

  /**
   * Claims the right to pipe `originId` here; false if it is here already or on its way.
   * Call {@link releasePipe} when done (either way).
   */
  claimPipe(originId: string): boolean {
    if (this.#producers.has(originId) || this.#piping.has(originId)) return false;
    this.#piping.add(originId);
    return true;
  }

  releasePipe(originId: string): void {
    this.#piping.delete(originId);
  }

  /** Closes the router and everything on it. Idempotent. */
  close(): void {
    this.#closeWith('closed');
  }

  #closeWith(reason: BroadcastRouterCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.router.close();
    this.#producers.clear();
    this.emit('close', reason);
    this.removeAllListeners();
  }
}
