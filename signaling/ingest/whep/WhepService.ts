import { randomBytes } from 'node:crypto';
import { AppError } from '../../../common/errors.ts';
import type { Logger } from '../../../common/logger.ts';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import type { IceServer, TransportOptions } from '../../../common/protocol/media.ts';
import type { LiveService } from '../../live/LiveService.ts';
import type { UserRecord } from '../../store/UserStore.ts';
import type { Throttle } from '../../throttle/RateLimits.ts';
import { parseTrickleFragment, writeIceRestartFragment } from '../sdpLines.ts';
import { offerSlots, parseWhepOffer, writeWhepAnswer } from './whepSdp.ts';
import { WhepSession, type WhepCloseReason } from './WhepSession.ts';

export interface WhepServiceOptions {
  live: LiveService;
  logger: Logger;
  /** WHEP sessions this node serves at once; beyond, POST answers 503 (config `ingest.whep.maxSessions`). */
  maxSessions: number;
  /** POSTs per client address (config `ingest.whep.postsPerAddress` per `ingest.whep.windowSeconds`). */
  perAddress: Throttle;
  /** A session whose DTLS has not connected this long after its POST ends (ms). */
  connectTimeoutMs: number;
  /** A session whose player ICE lost this long ends (ms). */
  disconnectGraceMs: number;
}

/** Who asks: the player's user (from its bearer token) and sign-in session, its address. */
export interface WhepCaller {
  user: UserRecord | undefined;
  authSessionId: string | undefined;
  address: string;
}

/** What a successful POST answers. */
export interface WhepStarted {
  session: WhepSession;
  answer: string;
  /** TURN servers with fresh credentials, when the node has TURN (sent as `Link: rel="ice-server"`). */
  iceServers: IceServer[];
}

/** A session id: 128 random bits, the capability that PATCH and DELETE on it need. */
const newSessionId = () => randomBytes(16).toString('base64url');

/**
 * WHEP playback (docs/ingest.md, "WHEP"): the sessions of this node's WHEP players. Each is a
 * synthetic connection (`whep:<session id>`) of the live domain that joins the broadcast as
 * any viewer does (LiveService.join: the same authorisation, the same viewer count, the same
 * redirects and relays, the same simulcast layer choice by the LayerGovernor), then
 * negotiates its media in SDP (whepSdp.ts) instead of the socket.io requests.
 */
export class WhepService {
  readonly #o: WhepServiceOptions;
  readonly #sessions = new Map<string, WhepSession>();
  #closed = false;

  constructor(o: WhepServiceOptions) {
    this.#o = o;
  }

  /** Sessions open on this node. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * A player's offer for a broadcast: the viewer joins, its consumers fill the offer's
   * sections, and the answer goes back.
   * @throws AppError RATE_LIMITED (per address), UNAVAILABLE (node full, or the broadcast
   *   sends no media yet), VALIDATION_FAILED (the offer: whepSdp.ts; or it decodes none of
   *   the broadcast's codecs), NOT_FOUND (unknown, or hidden from the caller),
   *   BROADCAST_ENDED, REDIRECT (RedirectError: a loaded node of several).
   */
  async open(broadcastId: BroadcastId, offerSdp: string, caller: WhepCaller, redirected: boolean): Promise<WhepStarted> {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'this server is shutting down');
    await this.#o.perAddress.take(caller.address);
    if (this.#sessions.size >= this.#o.maxSessions) throw new AppError('UNAVAILABLE', 'this server is serving as many WHEP players as it may; try again later');
    const offer = parseWhepOffer(offerSdp);
    // No RTX: the numbering's router allocates RTX payload types itself, not the player's
    // (sfu/payloadNumbering.ts); NACKs are answered on the media stream.
    const capabilities = { ...offer.rtpCapabilities, codecs: (offer.rtpCapabilities.codecs ?? []).filter((c) => !/\/rtx$/i.test(c.mimeType)) };
    const id = newSessionId();
    const peer = this.#o.live.connect(`whep:${id}`, caller.user, caller.address);
    // Served with the offer's payload types (sfu/payloadNumbering.ts).
    peer.payloadNumbering = capabilities;
    try {
      const joined = await this.#o.live.join(peer, { broadcastId, redirected, transport: true });
      const transport = joined.transport;
      if (!transport) throw new AppError('INTERNAL', 'the join made no transport');
      const viewer = await this.#o.live.viewerOf(peer, broadcastId);
      await viewer.connectTransport(transport.id, offer.dtlsParameters);
      const consumers = await viewer.consume(transport.id, capabilities, offerSlots(offer));
      if (consumers.length === 0) throw new AppError('UNAVAILABLE', 'this broadcast sends no media yet; try again in a few seconds');
      const tracks = consumers.map((c) => ({ id: c.id, kind: c.kind, rtpParameters: c.rtpParameters, mid: midOf(c.rtpParameters) }));
      const answer = writeWhepAnswer({ offer, transport, tracks, sessionId: id });
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the awaits above
      if (this.#closed) throw new AppError('UNAVAILABLE', 'this server is shutting down');
      const session = new WhepSession({
        id,
        broadcastId,
        peerId: peer.id,
        authSessionId: caller.authSessionId,
        viewer,
        transport: stripTurn(transport),
        consumers: tracks.map((t) => ({ id: t.id, kind: t.kind, mid: t.mid })),
        connectTimeoutMs: this.#o.connectTimeoutMs,
        disconnectGraceMs: this.#o.disconnectGraceMs,
        logger: this.#o.logger,
        onClose: (s, reason) => this.#forget(s, reason),
      });
      this.#sessions.set(id, session);
      this.#o.logger.info({ sessionId: id, broadcastId, tracks: tracks.length, userId: caller.user?.id }, 'WHEP session started');
      return { session, answer, iceServers: transport.iceServers ?? [] };
    } catch (err) {
      this.#o.live.disconnect(peer.id);
      throw err;
    }
  }

  /** The session `sessionId` of `broadcastId`, if it is open here (anything else is the same 404). */
  get(broadcastId: BroadcastId, sessionId: string): WhepSession {
    const session = this.#sessions.get(sessionId);
    if (!session || session.broadcastId !== broadcastId || session.closed) throw new AppError('NOT_FOUND', 'WHEP session not found');
    return session;
  }

  /**
   * A PATCH: trickled candidates (nothing to do: the server is ICE-lite and learns the
   * player's address from its checks) or an ICE restart (new credentials in the fragment).
   * @returns the answer fragment of an ICE restart, undefined for trickle only.
   */
  async patch(session: WhepSession, fragmentText: string): Promise<string | undefined> {
    const fragment = parseTrickleFragment(fragmentText);
    if (!fragment.restart) return undefined;
    return writeIceRestartFragment(await session.restartIce(), session.firstSection);
  }

  /** Ends every session of these sign-in sessions (signed out: their players stop too). */
  revoked(authSessionIds: readonly string[]): void {
    const ids = new Set(authSessionIds);
    for (const session of [...this.#sessions.values()]) if (session.authSessionId !== undefined && ids.has(session.authSessionId)) session.close('signed-out');
  }

  /** Ends every session (shutdown). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const session of [...this.#sessions.values()]) session.close('shutdown');
  }

  #forget(session: WhepSession, reason: WhepCloseReason): void {
    if (this.#sessions.get(session.id) === session) this.#sessions.delete(session.id);
    // The viewer leaves the broadcast (the count drops); a no-op when the broadcast ended.
    this.#o.live.disconnect(session.peerId);
    this.#o.logger.debug({ sessionId: session.id, reason }, 'WHEP session forgotten');
  }
}

/** The MID mediasoup gave a consumer (the offer's, through Viewer.consume's slots). */
function midOf(rtpParameters: unknown): string {
  const mid = (rtpParameters as { mid?: unknown }).mid;
  if (typeof mid !== 'string') throw new AppError('INTERNAL', 'a consumer without a MID');
  return mid;
}

/** The transport as the session keeps it (TURN credentials went to the player once). */
function stripTurn(t: TransportOptions): TransportOptions {
  return { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
}
