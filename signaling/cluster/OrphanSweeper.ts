import type { BroadcastDirectory } from '../../common/cluster/BroadcastDirectory.ts';
import type { Logger } from '../../common/logger.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { Notifier, Recorder } from '../live/ports.ts';
import type { Stores } from '../store/index.ts';
import type { RedisAbsence } from './RedisAbsence.ts';

export interface OrphanSweeperOptions {
  stores: Stores;
  directory: BroadcastDirectory;
  notifier: Notifier;
  recorder: Recorder | undefined;
  /** Whether this node is the broadcast's origin (it then looks after it itself). */
  isOriginHere: (id: BroadcastId) => boolean;
  /** How long a broadcast may be held by no node before it ends: the broadcaster's grace period. */
  graceMs: number;
  /** While it settles after a Redis outage, unclaimed broadcasts are left alone (their origins claim them again). */
  redisAbsence: RedisAbsence;
  intervalMs: number;
  logger: Logger;
}

/**
 * Several nodes: the surviving nodes end the broadcasts of an origin that died. Every node
 * looks at the broadcasts stored as live; one that no node claims in the directory is
 * "reconnecting" (its broadcaster may resume it on any node, which then claims it), and ends
 * with 'broadcaster-left' once it has been unclaimed for the grace period. Every node may try;
 * the store lets exactly one end it, and that one tells its clients and finalises its recording.
 * (One host ends what an earlier run left live at its start instead.)
 */
export class OrphanSweeper {
  readonly #o: OrphanSweeperOptions;
  /** When this node first saw each broadcast unclaimed. */
  readonly #unclaimedSince = new Map<BroadcastId, number>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(o: OrphanSweeperOptions) {
    this.#o = o;
  }

  start(): void {
    this.#timer = setInterval(() => void this.sweep(), this.#o.intervalMs);
    this.#timer.unref();
  }

  /** One pass (the timer calls it; tests may too). Returns the ids it ended. */
  async sweep(now = Date.now()): Promise<BroadcastId[]> {
    if (this.#running) return [];
    // Redis just came back without the claims that expired meanwhile: their origins write them again.
    if (this.#o.redisAbsence.settling(now)) return [];
    this.#running = true;
    const ended: BroadcastId[] = [];
    try {
      const live = await this.#o.stores.broadcasts.listLive({ limit: 1000 });
      const seen = new Set<BroadcastId>();
      for (const b of live) {
        seen.add(b.id);
        if (this.#o.isOriginHere(b.id) || (await this.#o.directory.lookup(b.id))) {
          this.#unclaimedSince.delete(b.id);
          continue;
        }
        const since = this.#unclaimedSince.get(b.id);
        if (since === undefined) {
          this.#unclaimedSince.set(b.id, now);
          if (b.status === 'live') {
            await this.#o.stores.broadcasts.setStatus(b.id, 'reconnecting');
            this.#o.notifier.toBroadcast(b.id, 'broadcast:status', { broadcastId: b.id, status: 'reconnecting' });
          }
          continue;
        }
        if (now - since < this.#o.graceMs) continue;
        this.#unclaimedSince.delete(b.id);
        if (!(await this.#o.stores.broadcasts.endIfLive(b.id, 'broadcaster-left'))) continue;
        ended.push(b.id);
        this.#o.logger.warn({ broadcastId: b.id, originNode: b.originNode }, 'ended a broadcast whose origin node died and that was not resumed');
        this.#o.notifier.toBroadcast(b.id, 'broadcast:ended', { broadcastId: b.id, reason: 'broadcaster-left' });
        this.#o.notifier.clear(b.id);
        await this.#o.recorder?.broadcastEnded(b.id);
      }
      for (const id of this.#unclaimedSince.keys()) if (!seen.has(id)) this.#unclaimedSince.delete(id);
    } catch (err) {
      this.#o.redisAbsence.markAway();
      this.#o.logger.warn({ err }, 'could not sweep for broadcasts of dead nodes (trying again)');
    } finally {
      this.#running = false;
    }
    return ended;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
