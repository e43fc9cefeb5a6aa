import type { BroadcastDirectory, OriginClaim } from '../../common/cluster/BroadcastDirectory.ts';
import type { Logger } from '../../common/logger.ts';
import { TypedEmitter } from '../../sfu/TypedEmitter.ts';

export type OriginLeaseEvents = {
  /** Another node holds the broadcast now: this one must stop serving it as its origin. */
  lost: [];
};

/**
 * This node's claim on a broadcast it is the origin of (common/cluster/BroadcastDirectory.ts),
 * renewed every third of the directory's TTL. A renewal that Redis cannot answer is retried
 * at the next tick (the claim may lapse meanwhile); one that finds the claim lapsed claims
 * again, and only if another node holds it by then is the lease 'lost'.
 */
export class OriginLease extends TypedEmitter<OriginLeaseEvents> {
  readonly #directory: BroadcastDirectory;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;
  #claim: OriginClaim;
  #renewing = false;
  #released: Promise<void> | undefined;

  private constructor(directory: BroadcastDirectory, claim: OriginClaim, renewMs: number, logger: Logger) {
    super((event, error) => logger.error({ err: error, event }, 'OriginLease listener threw'));
    this.#directory = directory;
    this.#claim = claim;
    this.#logger = logger;
    this.#timer = setInterval(() => void this.#renew(), renewMs);
    this.#timer.unref();
  }

  /** Claims `broadcastId` for `nodeId`; null when another node holds it. */
  static async take(o: { directory: BroadcastDirectory; broadcastId: string; nodeId: string; renewMs: number; logger: Logger }): Promise<OriginLease | null> {
    const claim = await o.directory.claim(o.broadcastId, o.nodeId);
    return claim ? new OriginLease(o.directory, claim, o.renewMs, o.logger) : null;
  }

  get token(): number {
    return this.#claim.token;
  }

  /** Stops renewing and gives the broadcast up. Idempotent. */
  release(): Promise<void> {
    return (this.#released ??= (async () => {
      clearInterval(this.#timer);
      this.removeAllListeners();
      await this.#directory.release(this.#claim).catch((err: unknown) => this.#logger.warn({ err }, 'could not release an origin claim (it lapses by itself)'));
    })());
  }

  async #renew(): Promise<void> {
    if (this.#renewing || this.#released) return;
    this.#renewing = true;
    try {
      if (await this.#directory.renew(this.#claim)) return;
      const again = await this.#directory.claim(this.#claim.broadcastId, this.#claim.nodeId);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- release() may run during the awaits above; TS keeps the narrowing across them
      if (this.#released) {
        if (again) await this.#directory.release(again);
        return;
      }
      if (again) {
        this.#logger.warn('the origin claim had lapsed; claimed again');
        this.#claim = again;
        return;
      }
      this.#logger.error('another node holds this broadcast now; giving it up here');
      clearInterval(this.#timer);
      this.emit('lost');
    } catch (err) {
      this.#logger.warn({ err }, 'could not renew an origin claim (Redis); trying again');
    } finally {
      this.#renewing = false;
    }
  }
}
