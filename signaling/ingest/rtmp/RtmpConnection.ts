import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import { AppError } from '../../../common/errors.ts';
import type { Logger } from '../../../common/logger.ts';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import type { RtpParameters } from '../../../common/protocol/media.ts';
import { TypedEmitter } from '../../../sfu/TypedEmitter.ts';
import type { RtpIngest, RtpIngestSession, StreamKeyAuthority } from '../ports.ts';
import { FLV_AUDIO, FLV_VIDEO, flvHeader, flvTag, h264ProfileName, profileLevelIdFor, readVideoTag } from './flvTags.ts';
import { KeyframeWatch } from './KeyframeWatch.ts';
import { RtmpProtocol } from './RtmpProtocol.ts';
import { RtmpTranscoder, transcoderArgs } from './RtmpTranscoder.ts';

/** A warning for the broadcaster about their encoder's stream (`broadcast:warning`). */
export interface IngestWarning {
  code: 'keyframe-interval' | 'b-frames';
  message: string;
}

/** How the RTMP ingest reaches the broadcaster: over the live domain's notifier, to the broadcast's room. */
export interface IngestWarnings {
  warn(broadcastId: BroadcastId, warning: IngestWarning): void;
}

export interface RtmpConnectionDeps {
  authority: StreamKeyAuthority;
  broadcasts: RtpIngest;
  warnings: IngestWarnings;
  logger: Logger;
  /** From the TCP connection to `publish`; past it the connection is closed (a stalled or truncated handshake). */
  publishTimeoutMs: number;
  /** From `publish` to the first H.264 keyframe; past it the connection is refused (no video). */
  mediaTimeoutMs: number;
  /** Keyframes further apart than this draw a warning. */
  keyframeWarningMs: number;
  /**
   * Takes `key` for this connection, or says why not: another connection of this server holds
   * it and is still sending (an encoder that went silent is taken for lost and let go first).
   */
  claimKey(key: string, connection: RtmpConnection): Promise<string | undefined>;
  ffmpegPath?: string | undefined;
}

/** The RTP payload types the ingest's producers declare (and ffmpeg sends). */
const VIDEO_PT = 102;
const AUDIO_PT = 111;
/** A publishing connection that sends nothing for this long is taken for lost (a half-open TCP connection sends nothing). */
export const IDLE_TIMEOUT_MS = 5000;
/** Audio and video held while the broadcast opens (a second or so of media). */
const MAX_HELD_MESSAGES = 600;
const MAX_HELD_BYTES = 32 * 1024 * 1024;

type State = 'connecting' | 'authorising' | 'probing' | 'opening' | 'streaming' | 'closed';
type ConnectionEvents = { close: [] };

/**
 * One encoder's RTMP connection (docs/ingest.md, "RTMP"): the handshake and commands through
 * {@link RtmpProtocol}; at `publish`, the stream key checked before any media is accepted;
 * then the media checked (H.264 video within `mediaTimeoutMs`, a profile the SFU offers);
 * then the broadcast opened ({@link RtpIngest.open}: new, or resumed within the grace
 * period) and its tracks fed to the SFU through an ffmpeg child ({@link RtmpTranscoder}). The
 * connection owns the session and ffmpeg: unpublishing ends the broadcast, a lost connection
 * (or ffmpeg dying) drops it into its grace period, a refusal leaves nothing open. `close` is
 * idempotent and emits `close` once.
 */
export class RtmpConnection extends TypedEmitter<ConnectionEvents> {
  readonly #socket: Socket;
  readonly #deps: RtmpConnectionDeps;
  readonly #log: Logger;
  readonly #protocol: RtmpProtocol;
  readonly #address: string;
  #state: State = 'connecting';
  #timer: NodeJS.Timeout | undefined;
  #key = '';
  #session: RtpIngestSession | undefined;
  #transcoder: RtmpTranscoder | undefined;
  /** While probing: the decoder configurations, and the media from the first keyframe on. */
  #videoConfig: { timestampMs: number; body: Buffer; profileLevelId: string } | undefined;
  #audioConfig: { timestampMs: number; body: Buffer } | undefined;
  #sawAudio = false;
  #held: Array<{ type: number; timestampMs: number; body: Buffer }> = [];
  #heldBytes = 0;
  readonly #keyframes: KeyframeWatch;
  readonly #warned = new Set<IngestWarning['code']>();
  readonly #closed: Promise<void>;
  #resolveClosed: () => void = () => undefined;
  #lastDataAt = Date.now();
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(socket: Socket, deps: RtmpConnectionDeps) {
    super();
    this.#socket = socket;
    this.#deps = deps;
    this.#address = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
    this.#log = deps.logger.child({ rtmp: `${this.#address}:${String(socket.remotePort ?? 0)}` });
    this.#keyframes = new KeyframeWatch(deps.keyframeWarningMs);
    this.#closed = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#protocol = new RtmpProtocol({
      output: (data) => {
        if (!socket.destroyed) socket.write(data);
      },
      publish: (app, streamName) => void this.#publish(app, streamName),
      play: () => {
        if (this.#state === 'connecting') this.#refuse('NetStream.Publish.Denied', 'this server takes streams (publish), it does not play them');
        else this.#fail('play on a publishing connection');
      },
      unpublish: () => this.#unpublish(),
      media: (type, timestampMs, body) => this.#media(type, timestampMs, body),
    });
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => {
      if (this.#state === 'closed') return;
      this.#lastDataAt = Date.now();
      try {
        this.#protocol.feed(data);
      } catch (error) {
        this.#fail(`not RTMP: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
    socket.on('error', (error) => this.#log.debug({ err: error }, 'RTMP socket error'));
    socket.on('close', () => {
      if (this.#state === 'closed') return;
      if (this.#state === 'streaming') this.#log.info({ broadcastId: this.#session?.broadcastId }, 'RTMP encoder connection lost: the broadcast waits out its grace period');
      else this.#log.info({ state: this.#state }, 'RTMP connection closed before streaming');
      void this.#finish('drop');
    });
    this.#arm(deps.publishTimeoutMs, () => this.#fail(`no publish within ${String(deps.publishTimeoutMs)} ms of connecting`));
  }

  /** The stream key this connection publishes with, once accepted. */
  get key(): string | undefined {
    return this.#key || undefined;
  }

  /** Whether the connection is open and has received something within the last `ms`. */
  sentWithin(ms: number): boolean {
    return this.#state !== 'closed' && Date.now() - this.#lastDataAt <= ms;
  }

  /** The broadcast this connection feeds, once streaming. */
  get broadcastId(): BroadcastId | undefined {
    return this.#session?.broadcastId;
  }

  /** Closes the connection as the server shuts down: the broadcast is dropped into its grace period (ended by the live domain's own shutdown). */
  async close(): Promise<void> {
    await this.#finish('drop');
  }

  async #publish(app: string, streamName: string): Promise<void> {
    if (this.#state !== 'connecting') {
      this.#fail('a second publish on one connection');
      return;
    }
    const key = streamName.split('?')[0] ?? '';
    if (app.replace(/\/+$/, '') !== 'live') {
      this.#refuse('NetStream.Publish.BadName', 'publish to rtmp://<host>/live/<stream key>');
      return;
    }
    this.#state = 'authorising';
    this.#clear();
    let grant;
    try {
      grant = key ? await this.#deps.authority.authorise(key) : undefined;
    } catch (error) {
      this.#log.error({ err: error }, 'stream key check failed');
      this.#refuse('NetStream.Publish.Denied', 'the service is unavailable, try again');
      return;
    }
    if (this.#moved('authorising')) return;
    if (!grant) {
      // Through the ingest core all the same, so that the attempt counts against the address
      // (guessing keys is slow) and a limited address is told RATE_LIMITED.
      const refusal = await this.#deps.broadcasts.open(key, this.#address, 'rtmp').then(
        async (session) => {
          await session.end(); // a key made between the two look-ups: not this connection's
          return 'unknown or revoked stream key';
        },
        (error: unknown) => (error instanceof AppError && error.code !== 'UNAUTHENTICATED' ? `${error.code}: ${error.message}` : 'unknown or revoked stream key'),
      );
      this.#refuse('NetStream.Publish.BadName', refusal);
      return;
    }
    const taken = await this.#deps.claimKey(key, this);
    if (this.#moved('authorising')) return;
    if (taken !== undefined) {
      this.#refuse('NetStream.Publish.Denied', taken);
      return;
    }
    this.#key = key;
    this.#idleTimer = setInterval(() => {
      if (!this.sentWithin(IDLE_TIMEOUT_MS)) this.#fail(`nothing received for ${String(IDLE_TIMEOUT_MS)} ms`);
    }, 1000);
    this.#log.info({ keyId: grant.keyId, userId: grant.user.id }, 'RTMP publish: key accepted, waiting for H.264 video');
    this.#protocol.acceptPublish();
    this.#state = 'probing';
    this.#arm(this.#deps.mediaTimeoutMs, () =>
      this.#refuse('NetStream.Publish.Denied', `no H.264 video within ${String(this.#deps.mediaTimeoutMs)} ms of publishing (an audio-only stream is not taken)`),
    );
  }

  #media(type: number, timestampMs: number, body: Buffer): void {
    if (type !== FLV_AUDIO && type !== FLV_VIDEO) return;
    switch (this.#state) {
      case 'probing':
        return this.#probe(type, timestampMs, body);
      case 'opening':
        if (type === FLV_VIDEO && !this.#checkVideo(body)) return;
        if (this.#held.length >= MAX_HELD_MESSAGES || (this.#heldBytes += body.length) > MAX_HELD_BYTES) return this.#fail('the broadcast took too long to open');
        this.#held.push({ type, timestampMs, body });
        return;
      case 'streaming':
        if (type === FLV_VIDEO && !this.#checkVideo(body, timestampMs)) return;
        if (type === FLV_AUDIO && !this.#sawAudio) return; // audio that started after the video has no track
        if (this.#transcoder?.write(flvTag(type, timestampMs, body)) === false) {
          this.#log.warn('ffmpeg fell behind by more than 16 MiB: the encoder is disconnected');
          void this.#finish('drop');
        }
        return;
      default:
        // Media before publish was accepted, or after the end: not taken.
        return;
    }
  }

  /** Before the broadcast opens: collect the decoder configurations, check the codec, wait for a keyframe. */
  #probe(type: number, timestampMs: number, body: Buffer): void {
    if (type === FLV_AUDIO) {
      this.#sawAudio = true;
      // AAC's AudioSpecificConfig (sound format 10, packet type 0) must reach ffmpeg first.
      if (body.length >= 2 && body.readUInt8(0) >> 4 === 10 && body.readUInt8(1) === 0) this.#audioConfig = { timestampMs, body };
      return;
    }
    const tag = readVideoTag(body);
    if (!tag) return;
    if (tag.kind === 'other') {
      this.#refuse('NetStream.Publish.Denied', `video codec ${tag.codec} is not taken: send H.264`);
      return;
    }
    if (tag.kind === 'config') {
      const profileLevelId = profileLevelIdFor(tag.profileIdc);
      if (!profileLevelId) {
        this.#refuse('NetStream.Publish.Denied', `H.264 ${h264ProfileName(tag.profileIdc)} profile is not taken: set the encoder's profile to baseline or main`);
        return;
      }
      this.#videoConfig = { timestampMs, body, profileLevelId };
      return;
    }
    if (tag.kind !== 'frame' || !tag.keyframe || !this.#videoConfig) return; // frames before the first keyframe are of no use
    this.#held.push({ type, timestampMs, body });
    void this.#open();
  }

  /** While open: a video message; false when it refused the stream (a codec change). */
  #checkVideo(body: Buffer, timestampMs?: number): boolean {
    const tag = readVideoTag(body);
    if (tag?.kind === 'other') {
      this.#fail(`the video changed to codec ${tag.codec} mid-stream`);
      return false;
    }
    if (timestampMs !== undefined && tag?.kind === 'frame') {
      const gap = this.#keyframes.frame(timestampMs, tag.keyframe);
      if (gap !== undefined) {
        this.#warn('keyframe-interval', `No keyframe for ${(gap / 1000).toFixed(1)} s: set your encoder's keyframe interval to 2 s (at most 4 s), or viewers wait that long for the picture.`);
      }
      if (tag.compositionTimeMs !== 0) this.#warn('b-frames', 'Your encoder sends B-frames, which WebRTC viewers play badly: set B-frames to 0 (or the profile to baseline).');
    }
    return true;
  }

  async #open(): Promise<void> {
    this.#state = 'opening';
    this.#clear();
    const videoConfig = this.#videoConfig;
    if (!videoConfig) return;
    let session: RtpIngestSession;
    try {
      session = await this.#deps.broadcasts.open(this.#key, this.#address, 'rtmp');
    } catch (error) {
      const message = error instanceof AppError ? `${error.code}: ${error.message}` : 'the service could not start the broadcast';
      if (!(error instanceof AppError)) this.#log.error({ err: error }, 'opening the ingest broadcast failed');
      this.#refuse('NetStream.Publish.Denied', message);
      return;
    }
    if (this.#moved('opening')) {
      // The encoder went while the broadcast opened: it waits for it like any lost encoder.
      session.drop();
      return;
    }
    this.#session = session;
    const log = this.#log.child({ broadcastId: session.broadcastId });
    // The broadcast ended elsewhere (End on the go-live page, an admin, a suspension, sunset, the grace period): the encoder goes.
    void session.closed.then((reason) => {
      if (this.#state === 'closed') return;
      log.info({ reason }, 'the broadcast ended: the RTMP encoder is disconnected');
      void this.#finish('none');
    });
    try {
      const video = { payloadType: VIDEO_PT, ssrc: randomInt(1, 2 ** 31) };
      const videoParameters: RtpParameters = {
        codecs: [
          {
            mimeType: 'video/H264',
            payloadType: VIDEO_PT,
            clockRate: 90000,
            parameters: { 'packetization-mode': 1, 'profile-level-id': videoConfig.profileLevelId, 'level-asymmetry-allowed': 1 },
            rtcpFeedback: [{ type: 'nack', parameter: '' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
          },
        ],
        encodings: [{ ssrc: video.ssrc }],
      };
      const videoRtp = await session.produceRtp('video', videoParameters);
      let audioTarget;
      if (this.#sawAudio) {
        const audio = { payloadType: AUDIO_PT, ssrc: randomInt(1, 2 ** 31) };
        const audioRtp = await session.produceRtp('audio', {
          codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO_PT, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } }],
          encodings: [{ ssrc: audio.ssrc }],
        });
        audioTarget = { ...audio, endpoint: audioRtp.rtp };
      }
      if (this.#moved('opening')) return; // closed meanwhile: #finish dropped the session
      const transcoder = new RtmpTranscoder(transcoderArgs({ video: { ...video, endpoint: videoRtp.rtp }, audio: audioTarget }), this.#deps.ffmpegPath);
      this.#transcoder = transcoder;
      transcoder.on('exit', (reason) => {
        log.error({ reason }, 'the RTMP ingest ffmpeg died: the encoder is disconnected, its broadcast waits for it');
        void this.#finish('drop');
      });
      transcoder.write(flvHeader({ audio: this.#sawAudio, video: true }));
      transcoder.write(flvTag(FLV_VIDEO, videoConfig.timestampMs, videoConfig.body));
      if (this.#audioConfig) transcoder.write(flvTag(FLV_AUDIO, this.#audioConfig.timestampMs, this.#audioConfig.body));
      this.#state = 'streaming';
      const held = this.#held;
      this.#held = [];
      for (const m of held) this.#media(m.type, m.timestampMs, m.body);
      log.info({ audio: this.#sawAudio, profileLevelId: videoConfig.profileLevelId, ffmpeg: transcoder.pid }, 'RTMP ingest streaming');
    } catch (error) {
      log.error({ err: error }, 'the RTMP ingest could not feed the SFU');
      this.#refuse('NetStream.Publish.Denied', 'the service could not take the stream', 'end');
    }
  }

  #warn(code: IngestWarning['code'], message: string): void {
    const id = this.#session?.broadcastId;
    if (!id || this.#warned.has(code)) return;
    this.#warned.add(code);
    this.#log.warn({ broadcastId: id, code }, message);
    this.#deps.warnings.warn(id, { code, message });
  }

  #unpublish(): void {
    if (this.#state === 'closed') return;
    this.#log.info({ broadcastId: this.#session?.broadcastId }, 'RTMP unpublish: the broadcast ends');
    void this.#finish('end');
  }

  /** Refuses the stream with an RTMP error status the encoder shows, logs why, and closes. */
  #refuse(code: 'NetStream.Publish.BadName' | 'NetStream.Publish.Denied', reason: string, session: 'end' | 'drop' = 'end'): void {
    if (this.#state === 'closed') return;
    this.#log.info({ code, reason, broadcastId: this.#session?.broadcastId }, 'RTMP stream refused');
    try {
      this.#protocol.refusePublish(code, reason);
    } catch {
      // The socket may be gone already.
    }
    void this.#finish(session);
  }

  /** A protocol or pipeline failure: logged, and the connection closed (a broadcast already open waits for a reconnect). */
  #fail(reason: string): void {
    if (this.#state === 'closed') return;
    this.#log.info({ reason, state: this.#state, broadcastId: this.#session?.broadcastId }, 'RTMP connection closed');
    void this.#finish(this.#state === 'streaming' ? 'drop' : 'end');
  }

  /** Closes everything, then lets the session go: `end` (unpublish), `drop` (lost), or `none` (it ended already). */
  async #finish(how: 'end' | 'drop' | 'none'): Promise<void> {
    if (this.#state === 'closed') return this.#closed;
    this.#state = 'closed';
    this.#clear();
    clearInterval(this.#idleTimer);
    this.#held = [];
    // Flush what was written (an error status) before closing.
    this.#socket.end();
    this.#socket.destroySoon();
    setTimeout(() => this.#socket.destroy(), 1000).unref();
    const session = this.#session;
    try {
      await this.#transcoder?.close();
      if (session) {
        if (how === 'end') await session.end();
        else if (how === 'drop') session.drop();
      }
    } catch (error) {
      this.#log.error({ err: error }, 'closing the RTMP ingest failed');
    } finally {
      this.#resolveClosed();
      this.emit('close');
    }
  }

  /** After an await: whether the connection left `state` meanwhile (closed by the encoder, a timeout or the server). */
  #moved(state: State): boolean {
    return this.#state !== state;
  }

  #arm(ms: number, then: () => void): void {
    this.#clear();
    this.#timer = setTimeout(then, ms);
  }

  #clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
