import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { EndReason } from '../../common/protocol/events.ts';
import type { DtlsParameters, MediaKind, RtpParameters, TransportOptions } from '../../common/protocol/media.ts';
import type { Logger } from '../../common/logger.ts';
import type { RtpIngestEndpoint } from '../../sfu/rtpIngest.ts';
import type { LiveService } from '../live/LiveService.ts';
import type { Peer } from '../live/Peer.ts';
import type { RtpIngestSession, WebRtcIngestSession } from './ports.ts';
import { AppError } from '../../common/errors.ts';
import type { Broadcast, SendTransportLoss } from '../../sfu/Broadcast.ts';

/**
 * One encoder's connection feeding one broadcast (ports.ts `IngestSession`): a Peer of the live
 * domain (`ingest:<id>`) that is the broadcast's broadcaster, so its media goes through the
 * same LiveService calls as a browser's. `end` stops the broadcast, `drop` leaves it to its grace
 * period; both let the Peer go, and either is idempotent (the first one wins).
 */
export class EncoderSession implements WebRtcIngestSession, RtpIngestSession {
  readonly broadcastId: BroadcastId;
  readonly keyId: string;
  readonly closed: Promise<EndReason>;
  readonly #live: LiveService;
  readonly #peer: Peer;
  readonly #log: Logger;
  #gone = false;

  constructor(o: { live: LiveService; peer: Peer; broadcastId: BroadcastId; keyId: string; closed: Promise<EndReason>; logger: Logger }) {
    this.#live = o.live;
    this.#peer = o.peer;
    this.broadcastId = o.broadcastId;
    this.keyId = o.keyId;
    this.closed = o.closed;
    this.#log = o.logger;
  }

  createTransport(): Promise<TransportOptions> {
    return this.#live.createTransport(this.#peer, { broadcastId: this.broadcastId });
  }

  async connectTransport(transportId: string, dtlsParameters: DtlsParameters): Promise<void> {
    await this.#live.connectTransport(this.#peer, { broadcastId: this.broadcastId, transportId, dtlsParameters });
  }

  produce(transportId: string, kind: MediaKind, rtpParameters: RtpParameters): Promise<{ producerId: string }> {
    return this.#live.produce(this.#peer, { broadcastId: this.broadcastId, transportId, kind, rtpParameters });
  }

  // WHIP (signaling/ingest/whip/): the send transport is the encoder's only presence. Only while
  // this session's Peer is the broadcaster; a transport that is not the current one is unknown.
  async restartIce(transportId: string): Promise<{ usernameFragment: string; password: string }> {
    return this.#media('restart ICE').restartSendIce(transportId);
  }

  transportLost(transportId: string): Promise<SendTransportLoss> {
    const live = this.#live.onAir(this.broadcastId);
    if (!live || live.broadcasterPeerId !== this.#peer.id) return Promise.resolve('closed');
    return live.media.sendTransportLost(transportId);
  }

  #media(what: string): Broadcast {
    const live = this.#live.onAir(this.broadcastId);
    if (!live || live.broadcasterPeerId !== this.#peer.id) throw new AppError('NOT_FOUND', `${what}: unknown transport`);
    return live.media;
  }

  produceRtp(kind: MediaKind, rtpParameters: RtpParameters): Promise<{ producerId: string; rtp: RtpIngestEndpoint }> {
    return this.#live.produceRtp(this.#peer, { broadcastId: this.broadcastId, kind, rtpParameters });
  }

  async end(): Promise<void> {
    if (this.#gone) return;
    this.#gone = true;
    try {
      await this.#live.stop(this.#peer, { broadcastId: this.broadcastId });
    } catch (err) {
      // Ended already by someone else (the go-live page, an admin): nothing left to stop.
      this.#log.debug({ err }, 'ingest end: the broadcast was not live');
    } finally {
      this.#live.disconnect(this.#peer.id);
    }
    this.#log.info('encoder ended its broadcast');
  }

  drop(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#live.disconnect(this.#peer.id);
    this.#log.info('encoder gone; the broadcast waits for it');
  }
}
