import { randomBytes } from 'node:crypto';
import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { EndReason } from '../../common/protocol/events.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { LiveService } from '../live/LiveService.ts';
import type { SunsetGate } from '../live/ports.ts';
import type { Stores } from '../store/index.ts';
import type { Throttle } from '../throttle/RateLimits.ts';
import { EncoderSession } from './EncoderSession.ts';
import type { IngestBroadcasts, IngestSessions, StreamKeyAuthority } from './ports.ts';

export interface IngestServiceOptions {
  live: LiveService;
  keys: StreamKeyAuthority;
  stores: Stores;
  /** The sunset phase: no new ingest from read-only on. */
  sunset: SunsetGate;
  /** Ingest attempts per client address (counted before the key is looked up) and starts per key. */
  limits: { perAddress: Throttle; perKey: Throttle };
  logger: Logger;
}

/**
 * Encoders going live with a stream key (ports.ts `IngestBroadcasts`, docs/ingest.md): each
 * encoder connection is a Peer of the live domain (`ingest:<id>`, `Peer.encoder` set) that
 * starts the key's broadcast through `LiveService.start` — so the broadcast is like any other:
 * one per person, recorded, listed, chat and hearts — or, while the key's broadcast waits out
 * its grace period for its encoder, resumes it through `LiveService.resume`.
 *
 * Refusals, in this order: SERVICE_SUNSET; RATE_LIMITED per address (every attempt counts, so
 * guessing keys is slow); UNAUTHENTICATED (unknown or revoked key); RATE_LIMITED per key;
 * ALREADY_LIVE (the owner is live from a browser, another key, or this key from another encoder);
 * then what LiveService.start refuses (SUSPENDED, UNAVAILABLE, …).
 */
export class IngestService implements IngestBroadcasts {
  readonly #o: IngestServiceOptions;
  readonly #log: Logger;

  constructor(options: IngestServiceOptions) {
    this.#o = options;
    this.#log = options.logger;
  }

  async open<V extends keyof IngestSessions>(secret: string, address: string, via: V): Promise<IngestSessions[V]> {
    this.#o.sunset.assertAllowed('broadcast');
    await this.#o.limits.perAddress.take(address);
    const grant = await this.#o.keys.authorise(secret);
    if (!grant) {
      this.#log.info({ address, via }, 'ingest refused: unknown or revoked stream key');
      throw new AppError('UNAUTHENTICATED', 'unknown or revoked stream key');
    }
    await this.#o.limits.perKey.take(grant.keyId);
    const { live } = this.#o;
    const existing = await this.#o.stores.broadcasts.findLiveByOwner(grant.user.id);
    const waiting = existing?.streamKeyId === grant.keyId ? live.onAir(existing.id) : undefined;
    if (existing && (!waiting || waiting.broadcasterPeerId !== undefined)) {
      throw new AppError(
        'ALREADY_LIVE',
        existing.streamKeyId === grant.keyId
          ? 'this stream key is live from another encoder: stop that one first'
          : `you are already live in "${existing.title}": end it first`,
      );
    }
    const peer = live.connect(`ingest:${randomBytes(9).toString('base64url')}`, grant.user, address, via);
    let broadcastId: BroadcastId;
    try {
      const { broadcast } = existing
        ? await live.resume(peer, { broadcastId: existing.id })
        : await live.start(peer, { title: grant.title, visibility: grant.visibility, invitees: [] }, grant.keyId);
      broadcastId = broadcast.id;
    } catch (err) {
      live.disconnect(peer.id);
      throw err;
    }
    const onAir = live.onAir(broadcastId);
    if (!onAir) {
      live.disconnect(peer.id);
      throw new AppError('BROADCAST_ENDED', 'the broadcast ended as it started');
    }
    const closed = new Promise<EndReason>((resolve) => onAir.once('close', resolve));
    await this.#o.stores.streamKeys.touch(grant.keyId).catch((err: unknown) => this.#log.warn({ err }, 'could not note the stream key’s use'));
    const log = this.#log.child({ broadcastId, keyId: grant.keyId, via });
    log.info({ resumed: existing !== undefined, address }, existing ? 'encoder resumed its broadcast' : 'encoder went live');
    return new EncoderSession({ live: this.#o.live, peer, broadcastId, keyId: grant.keyId, closed, logger: log });
  }
}
