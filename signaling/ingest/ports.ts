import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { EndReason, Visibility } from '../../common/protocol/events.ts';
import type { DtlsParameters, MediaKind, RtpParameters, TransportOptions } from '../../common/protocol/media.ts';
import type { RtpIngestEndpoint } from '../../sfu/rtpIngest.ts';
import type { UserRecord } from '../store/UserStore.ts';
import type { SendTransportLoss } from '../../sfu/Broadcast.ts';

/**
 * The ingest domain's contract (docs/ingest.md): how an encoder — OBS or any other, over WHIP
 * (signaling/ingest/whip/) or RTMP (signaling/ingest/rtmp/) — goes live with a stream key, as
 * the same broadcast a browser's go-live page makes (LiveService: chat, hearts, counts,
 * recording, replay, archive).
 */

/** What a stream key lets its bearer do: go live as the key's owner, with the key's defaults. */
export interface StreamKeyGrant {
  readonly keyId: string;
  readonly user: UserRecord;
  /** The title and visibility of the broadcasts started with this key. */
  readonly title: string;
  readonly visibility: Visibility;
}

/** Stream keys as the ingest endpoints see them (signaling/ingest/StreamKeys.ts). */
export interface StreamKeyAuthority {
  /** The grant of a key, or undefined for an unknown or revoked one (the secret is looked up by its hash). */
  authorise(secret: string): Promise<StreamKeyGrant | undefined>;
}

/**
 * One encoder's connection, feeding one broadcast. Made by {@link IngestBroadcasts.open}; the
 * protocol endpoint owns it and calls exactly one of `end` or `drop` when the encoder goes.
 */
export interface IngestSession {
  readonly broadcastId: BroadcastId;
  readonly keyId: string;
  /**
   * Resolves, with the reason, when the broadcast ends however it ends (`end`, the End button of
   * the go-live page, an admin, a suspension, the grace period, sunset, shutdown): the endpoint
   * then closes the encoder's connection. Never rejects.
   */
  readonly closed: Promise<EndReason>;
  /** The encoder ended the broadcast (WHIP DELETE, RTMP unpublish): it ends now. Idempotent. */
  end(): Promise<void>;
  /** The encoder vanished (connection lost): the broadcast waits out its grace period for `open` again. Idempotent. */
  drop(): void;
}

/** A WebRTC encoder's connection (WHIP). */
export interface WebRtcIngestSession extends IngestSession {
  /** The broadcaster's send transport, then its DTLS parameters, then a producer per track. */
  createTransport(): Promise<TransportOptions>;
  connectTransport(transportId: string, dtlsParameters: DtlsParameters): Promise<void>;
  produce(transportId: string, kind: MediaKind, rtpParameters: RtpParameters): Promise<{ producerId: string }>;
  /**
   * WHIP: new ICE credentials for the send transport (an ICE restart, RFC 9725 §4.3.2).
   * @throws AppError NOT_FOUND when `transportId` is not the broadcast's current send transport.
   */
  restartIce(transportId: string): Promise<{ usernameFragment: string; password: string }>;
  /**
   * WHIP: resolves when the send transport is lost — ICE consent expired (the encoder went
   * silent), DTLS failed or was closed, or the transport closed (a newer session of the key took
   * over, the broadcast ended); the endpoint then calls `drop`. Never rejects.
   */
  transportLost(transportId: string): Promise<SendTransportLoss>;
}

/** A plain-RTP encoder's connection (RTMP, through ffmpeg). */
export interface RtpIngestSession extends IngestSession {
  /** A comedia RTP ingest per track. */
  produceRtp(kind: MediaKind, rtpParameters: RtpParameters): Promise<{ producerId: string; rtp: RtpIngestEndpoint }>;
}

/** The session each protocol gets from {@link IngestBroadcasts.open}. */
export interface IngestSessions {
  whip: WebRtcIngestSession;
  rtmp: RtpIngestSession;
}

/** Starts (or resumes within the grace period) the broadcast of a stream key. */
export interface IngestBroadcasts {
  /**
   * The key's broadcast: a new one, or — when the key's broadcast is live and waiting for its
   * encoder (grace period) — that one, resumed.
   * @throws AppError UNAUTHENTICATED (unknown or revoked key), ALREADY_LIVE (the key's owner is
   *   live with an encoder or a browser), SUSPENDED, SERVICE_SUNSET, RATE_LIMITED, UNAVAILABLE.
   */
  open<V extends keyof IngestSessions>(secret: string, address: string, via: V): Promise<IngestSessions[V]>;
}

/** What the WHIP endpoint needs of {@link IngestBroadcasts}. */
export interface WebRtcIngest {
  open(secret: string, address: string, via: 'whip'): Promise<WebRtcIngestSession>;
}

/** What the RTMP endpoint needs of {@link IngestBroadcasts}. */
export interface RtpIngest {
  open(secret: string, address: string, via: 'rtmp'): Promise<RtpIngestSession>;
}
