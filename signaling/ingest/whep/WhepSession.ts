import { randomBytes } from 'node:crypto';
import type { Logger } from '../../../common/logger.ts';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import type { TransportOptions } from '../../../common/protocol/media.ts';
import type { Viewer, ViewerTransportState } from '../../../sfu/Viewer.ts';

/** Why a WHEP session ended (logged; the player sees its connection close). */
export type WhepCloseReason =
  | 'deleted'
  | 'never-connected'
  | 'connection-lost'
  | 'transport-failed'
  | 'track-ended'
  | 'viewer-closed'
  | 'signed-out'
  | 'shutdown';

export interface WhepSessionOptions {
  id: string;
  broadcastId: BroadcastId;
  /** The live domain's connection this session watches through (`whep:<id>`). */
  peerId: string;
  /** The session user's sign-in session, when the player sent a bearer token (sign-out ends it). */
  authSessionId: string | undefined;
  viewer: Viewer;
  transport: TransportOptions;
  /** The consumers of the answer, each filling the offer's section with that MID. */
  consumers: Array<{ id: string; kind: string; mid: string }>;
  /** Ends the session unless DTLS connects within this time (a POST that never plays holds no viewer). */
  connectTimeoutMs: number;
  /** Ends the session this long after ICE lost the player (consent expired) unless it comes back or restarts ICE. */
  disconnectGraceMs: number;
  logger: Logger;
  /** Called once when the session closes: the parent forgets it and the viewer leaves the broadcast. */
  onClose: (session: WhepSession, reason: WhepCloseReason) => void;
}

/** A fresh entity tag for a session's ICE state (RFC 9725: changes with every ICE restart). */
const newEtag = () => `"${randomBytes(9).toString('base64url')}"`;

/**
 * One WHEP player watching one broadcast: a viewer (a receive transport and a consumer per
 * offered section) that the player reached with one SDP exchange. Its consumers start paused
 * and are resumed, each with a key frame asked for, once DTLS connects. It ends on DELETE,
 * when its transport fails or closes, when ICE lost the player for longer than the grace,
 * when it never connected, when one of its tracks ends (the broadcaster replaced it: a
 * player cannot be offered a new one without renegotiation), or when its viewer closes (the
 * broadcast ended, a block, a media worker died). Created by WhepService, which owns it.
 */
export class WhepSession {
  readonly id: string;
  readonly broadcastId: BroadcastId;
  readonly peerId: string;
  readonly authSessionId: string | undefined;
  readonly #o: WhepSessionOptions;
  readonly #viewer: Viewer;
  #transport: TransportOptions;
  #etag = newEtag();
  #connectTimer: NodeJS.Timeout | undefined;
  #lostTimer: NodeJS.Timeout | undefined;
  #connected = false;
  #closed = false;

  constructor(o: WhepSessionOptions) {
    this.id = o.id;
    this.broadcastId = o.broadcastId;
    this.peerId = o.peerId;
    this.authSessionId = o.authSessionId;
    this.#o = o;
    this.#viewer = o.viewer;
    this.#transport = o.transport;
    this.#connectTimer = setTimeout(() => this.close('never-connected'), o.connectTimeoutMs);
    this.#connectTimer.unref();
    o.viewer.on('transport', (state) => this.#onTransport(state));
    o.viewer.on('consumerclose', (consumerId) => {
      if (o.consumers.some((c) => c.id === consumerId)) this.close('track-ended');
    });
    o.viewer.on('close', () => this.close('viewer-closed'));
  }

  /** The entity tag of the session's current ICE credentials. */
  get etag(): string {
    return this.#etag;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The first section of the answer (all are bundled): where an ICE restart's answer puts the candidates. */
  get firstSection(): { kind: string; mid: string } {
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- WhepService opens a session only with a consumer
    const { kind, mid } = this.#o.consumers[0]!;
    return { kind, mid };
  }

  /** The player restarts ICE: new credentials (a new ETag), the same candidates. */
  async restartIce(): Promise<{ iceParameters: TransportOptions['iceParameters']; iceCandidates: TransportOptions['iceCandidates'] }> {
    const iceParameters = await this.#viewer.restartIce(this.#transport.id);
    this.#transport = { ...this.#transport, iceParameters };
    this.#etag = newEtag();
    // A restart is the player coming back: the grace after a loss starts again if it fails.
    this.#clearLost();
    return { iceParameters, iceCandidates: this.#transport.iceCandidates };
  }

  /** Ends the session: its viewer leaves the broadcast (through the parent). Idempotent. */
  close(reason: WhepCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#clearLost();
    this.#o.logger.info({ sessionId: this.id, broadcastId: this.broadcastId, reason }, 'WHEP session ended');
    this.#o.onClose(this, reason);
  }

  #onTransport(state: ViewerTransportState): void {
    if (this.#closed) return;
    switch (state) {
      case 'connected':
        if (this.#connected) return;
        this.#connected = true;
        if (this.#connectTimer) clearTimeout(this.#connectTimer);
        this.#connectTimer = undefined;
        void this.#resume();
        return;
      case 'disconnected':
        if (this.#lostTimer) return;
        this.#lostTimer = setTimeout(() => this.close('connection-lost'), this.#o.disconnectGraceMs);
        this.#lostTimer.unref();
        return;
      case 'reconnected':
        this.#clearLost();
        return;
      case 'failed':
      case 'closed':
        this.close('transport-failed');
        return;
    }
  }

  /** Media flows from now: each consumer resumed with a key frame asked for (Viewer.resumeConsumer). */
  async #resume(): Promise<void> {
    for (const { id } of this.#o.consumers) {
      try {
        await this.#viewer.resumeConsumer(id);
      } catch (err) {
        // Its track ended meanwhile ('consumerclose' ends the session) or the viewer closed.
        this.#o.logger.debug({ err, sessionId: this.id }, 'could not resume a WHEP consumer');
      }
    }
  }

  #clearLost(): void {
    if (this.#lostTimer) clearTimeout(this.#lostTimer);
    this.#lostTimer = undefined;
  }
}
