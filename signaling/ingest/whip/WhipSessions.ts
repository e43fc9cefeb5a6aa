import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../../common/errors.ts';
import type { Logger } from '../../../common/logger.ts';
import type { RtpCapabilities, TransportOptions } from '../../../common/protocol/media.ts';
import type { WebRtcIngest, WebRtcIngestSession } from '../ports.ts';
import { parseTrickleFragment, writeIceRestartFragment } from '../sdpLines.ts';
import { parseWhipOffer, writeWhipAnswer } from './whipSdp.ts';

export interface WhipSessionsOptions {
  ingest: WebRtcIngest;
  /** The RTP capabilities every broadcast router has (sfu/routerCapabilities.ts), read once, when the first offer comes. */
  rtpCapabilities: () => Promise<RtpCapabilities>;
  logger: Logger;
}

/** One WHIP session: an encoder's transport feeding its broadcast, at `/whip/<id>`. */
interface Entry {
  readonly id: string;
  readonly session: WebRtcIngestSession;
  /** SHA-256 of the stream key that opened it: only that key may PATCH or DELETE it. */
  readonly keyHash: Buffer;
  readonly transport: TransportOptions;
  /** The first accepted section: where an ICE restart's candidates go. */
  readonly first: { kind: string; mid: string | undefined };
  /** The ICE session's entity tag (RFC 9725 §4.3.1); a new one after each ICE restart. */
  etag: string;
}

const hashOf = (secret: string) => createHash('sha256').update(secret).digest();
const newEtag = () => `"${randomBytes(12).toString('base64url')}"`;
/** The answer for a session that does not exist, is gone, or belongs to another key: the same, always. */
const notFound = () => new AppError('NOT_FOUND', 'no such WHIP session');

/**
 * The WHIP sessions of this process (RFC 9725; docs/ingest.md, "WHIP"): each one an encoder's
 * IngestSession, its send transport and the key that opened it. A session goes when the encoder
 * DELETEs it (the broadcast ends), when its transport is lost (ICE consent expired, DTLS failed
 * or closed, the transport closed because a newer session of the key took over or the broadcast
 * ended: the broadcast waits out its grace period for the encoder to POST again), or at close.
 * The HTTP side is whipRouter.ts.
 */
export class WhipSessions {
  readonly #o: WhipSessionsOptions;
  readonly #sessions = new Map<string, Entry>();
  #capabilities: Promise<RtpCapabilities> | undefined;
  #closed = false;

  constructor(options: WhipSessionsOptions) {
    this.#o = options;
  }

  /** Sessions open now. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * An encoder's offer: checked first (nothing is opened for an offer the server cannot take),
   * then the key's broadcast is opened (new, or resumed within its grace period), its send
   * transport created and connected, a producer per track.
   * @throws AppError as parseWhipOffer and IngestBroadcasts.open do; UNAVAILABLE once closed.
   */
  async open(secret: string, address: string, offerSdp: string): Promise<{ id: string; etag: string; answer: string; broadcastId: string }> {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'the server is shutting down');
    const offer = parseWhipOffer(offerSdp, await this.#routerCapabilities());
    const session = await this.#o.ingest.open(secret, address, 'whip');
    let transport: TransportOptions;
    try {
      transport = await session.createTransport();
      await session.connectTransport(transport.id, offer.dtlsParameters);
      for (const track of offer.tracks) await session.produce(transport.id, track.kind, track.rtpParameters);
    } catch (err) {
      // Nothing left open: a broadcast this offer started (or resumed) ends.
      await session.end();
      throw err;
    }
    const firstSection = offer.sections.find((s) => s.track);
    const entry: Entry = {
      id: randomBytes(16).toString('base64url'),
      session,
      keyHash: hashOf(secret),
      transport,
      first: { kind: firstSection?.type ?? 'video', mid: firstSection?.mid },
      etag: newEtag(),
    };
    this.#sessions.set(entry.id, entry);
    void session.transportLost(transport.id).then((loss) => {
      if (this.#sessions.get(entry.id) !== entry) return;
      this.#sessions.delete(entry.id);
      this.#o.logger.info({ whipSession: entry.id, broadcastId: session.broadcastId, loss }, 'WHIP session lost; the broadcast waits for the encoder');
      session.drop();
    });
    this.#o.logger.info({ whipSession: entry.id, broadcastId: session.broadcastId, tracks: offer.tracks.map((t) => t.kind) }, 'WHIP session opened');
    return { id: entry.id, etag: entry.etag, answer: writeWhipAnswer(offer, transport), broadcastId: session.broadcastId };
  }

  /**
   * A PATCH (RFC 9725 §4.3): trickle candidates are taken and not needed (the SFU is ICE-lite
   * and learns the encoder's addresses from its checks): undefined, 204. New ICE credentials
   * are an ICE restart: the transport's new credentials as a fragment, and a new ETag (200).
   * @throws AppError NOT_FOUND (unknown session, or not this key's), PRECONDITION_FAILED
   *   (`If-Match` not `*` nor the current ETag), BAD_REQUEST (not a fragment).
   */
  async patch(id: string, secret: string, ifMatch: string | undefined, body: string): Promise<{ etag: string; fragment: string } | undefined> {
    const entry = this.#owned(id, secret);
    if (ifMatch !== undefined && ifMatch.trim() !== '*' && ifMatch.trim() !== entry.etag) {
      throw new AppError('PRECONDITION_FAILED', `If-Match ${ifMatch.slice(0, 64)} is not the session's ETag ${entry.etag}`);
    }
    const fragment = parseTrickleFragment(body);
    if (!fragment.restart) return undefined;
    const ice = await entry.session.restartIce(entry.transport.id);
    entry.etag = newEtag();
    this.#o.logger.info({ whipSession: entry.id, broadcastId: entry.session.broadcastId }, 'WHIP ICE restart');
    return { etag: entry.etag, fragment: writeIceRestartFragment({ iceParameters: ice, iceCandidates: entry.transport.iceCandidates }, entry.first) };
  }

  /** A DELETE: the encoder ends the broadcast. @throws AppError NOT_FOUND (unknown session, or not this key's). */
  async delete(id: string, secret: string): Promise<void> {
    const entry = this.#owned(id, secret);
    this.#sessions.delete(id);
    await entry.session.end();
    this.#o.logger.info({ whipSession: entry.id, broadcastId: entry.session.broadcastId }, 'WHIP session deleted; the broadcast ended');
  }

  /** Forgets every session (the live domain closes their broadcasts at shutdown) and refuses new ones. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#sessions.clear();
  }

  #owned(id: string, secret: string): Entry {
    const entry = this.#sessions.get(id);
    if (!entry || !timingSafeEqual(entry.keyHash, hashOf(secret))) throw notFound();
    return entry;
  }

  #routerCapabilities(): Promise<RtpCapabilities> {
    this.#capabilities ??= this.#o.rtpCapabilities().catch((err: unknown) => {
      this.#capabilities = undefined;
      throw err;
    });
    return this.#capabilities;
  }
}
