import type { Logger } from '../../common/logger.ts';
import type { JoinRedirect } from '../../common/protocol/errors.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { Notifier } from '../live/ports.ts';

/** A viewer served by this node: its connection and the broadcast it watches. */
export interface ServedViewer {
  peerId: string;
  broadcastId: BroadcastId;
}

export interface NodeDrainOptions {
  /** Whether an admin drains this node (its last heartbeat read it). */
  draining: () => boolean;
  /** The viewers this node serves now (LiveService.viewersHere). */
  viewers: () => ServedViewer[];
  /** The nodes viewers may go to, least loaded first (JoinRedirects.targets). */
  targets: () => Promise<JoinRedirect[]>;
  notifier: Notifier;
  /** How often moves are sent. */
  tickMs: number;
  /** Viewers told to move per tick: the join storm the other nodes take. */
  movesPerTick: number;
  logger: Logger;
}

/**
 * Moves the viewers off a node an admin drains (`npm run admin -- node drain <id>`): each is
 * told `broadcast:move` with another node's URL, spread round robin over the nodes that may
 * take them (least loaded first), `movesPerTick` at a time. The page joins there while it still
 * plays here and leaves here once the new video plays (web/src/pages/watch.ts), so the move
 * shows no black screen. A viewer is told once per connection; a viewer that stays (an old
 * page, a node it could not reach) is served here until it leaves. Broadcasters stay: a
 * drained origin keeps its broadcasts until they end (docs/scale.md).
 */
export class NodeDrain {
  readonly #o: NodeDrainOptions;
  /** Viewers told to move (peer id and broadcast id), while they are still here. */
  #told = new Set<string>();
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #stuckLogged = false;

  constructor(o: NodeDrainOptions) {
    this.#o = o;
  }

  start(): void {
    this.#timer = setInterval(() => void this.tick(), this.#o.tickMs);
    this.#timer.unref();
  }

  /** One pass (the timer calls it; tests may too). Returns how many viewers it told to move. */
  async tick(): Promise<number> {
    if (this.#running) return 0;
    if (!this.#o.draining()) {
      this.#told.clear();
      this.#stuckLogged = false;
      return 0;
    }
    this.#running = true;
    try {
      const here = this.#o.viewers().map((v) => ({ ...v, key: `${v.peerId} ${v.broadcastId}` }));
      this.#told = new Set(here.filter((v) => this.#told.has(v.key)).map((v) => v.key));
      const waiting = here.filter((v) => !this.#told.has(v.key)).slice(0, this.#o.movesPerTick);
      if (waiting.length === 0) return 0;
      const targets = await this.#o.targets();
      if (targets.length === 0) {
        if (!this.#stuckLogged) this.#o.logger.warn({ viewers: here.length }, 'draining, but no other node can take viewers now: they stay here');
        this.#stuckLogged = true;
        return 0;
      }
      this.#stuckLogged = false;
      for (const v of waiting) {
        // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- the index is taken modulo the length of a non-empty list
        const { url } = targets[this.#next++ % targets.length]!;
        this.#o.notifier.toPeer(v.peerId, 'broadcast:move', { broadcastId: v.broadcastId, url });
        this.#told.add(v.key);
      }
      this.#o.logger.info({ moved: waiting.length, left: here.length - this.#told.size, nodes: targets.length }, 'draining: told viewers to move');
      return waiting.length;
    } catch (err) {
      this.#o.logger.warn({ err }, 'draining: could not move viewers (trying again)');
      return 0;
    } finally {
      this.#running = false;
    }
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
