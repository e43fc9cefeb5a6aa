import { randomUUID } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import type { Logger } from '../common/logger.ts';
import type { MediaKind } from '../common/protocol/media.ts';
import { TypedEmitter } from './TypedEmitter.ts';
import { toAppError } from './wire.ts';

/** Where a recorder listens for one track: RTP and RTCP on separate ports (what ffmpeg expects). */
export interface RtpTarget {
  rtpPort: number;
  rtcpPort: number;
}

/** SRTP keys of one direction (SDES): AES_CM_128_HMAC_SHA1_80 and its base64 master key + salt. */
export interface RecordingSrtp {
  cryptoSuite: 'AES_CM_128_HMAC_SHA1_80';
  keyBase64: string;
}

/** Where the recorder listens: one IP, a port pair per kind, and the key it would send with. */
export interface RecordingTarget {
  ip: string;
  video: RtpTarget;
  audio: RtpTarget;
  /** The recorder's key: the transports drop any RTCP that reaches them without it. */
  srtp: RecordingSrtp;
}

/** One recorded track, as the recorder's SDP needs it. */
export interface RecordedStream extends RtpTarget {
  kind: MediaKind;
  payloadType: number;
  mimeType: string;
  clockRate: number;
  channels?: number;
  parameters: Record<string, string | number>;
  /** The key this stream is encrypted with (the recorder decrypts with it). Never log it. */
  srtp: RecordingSrtp;
  /** The address the stream is sent from; null when the transport listens on every address. */
  sourceIp: string | null;
}

/** Listen addresses that say "every address": the sending address is then up to routing. */
const UNSPECIFIED = new Set(['0.0.0.0', '::']);

/** 'closed': its owner closed it; 'producer-closed': a recorded track ended (the broadcaster left or reconnected). */
export type RecordingTapCloseReason = 'closed' | 'producer-closed';

export type RecordingTapEvents = { close: [reason: RecordingTapCloseReason] };

export interface RecordingTapOptions {
  router: ms.Router;
  producers: ReadonlyArray<ms.Producer>;
  /** IP the PlainTransports bind to (the SFU's listen IP); they send from the worker's RTC port range. */
  listenIp: string;
  target: RecordingTarget;
  /** While resumed, ask the broadcaster for a keyframe this often, so recorded segments stay short. */
  keyframeIntervalMs: number;
  logger: Logger;
}

/**
 * The recording tap of a broadcast: one PlainTransport (RTP and RTCP on separate ports, no
 * comedia, SRTP with AES_CM_128_HMAC_SHA1_80) and one paused consumer per broadcaster track, sending to a recorder on another
 * process or host. The recorder first learns the codecs ({@link streams}) to start listening,
 * then calls {@link resume}: consumers resume and a keyframe is requested, so the recording
 * starts on one. Simulcast is recorded from its best layer.
 */
export class RecordingTap extends TypedEmitter<RecordingTapEvents> {
  readonly id = randomUUID();
  readonly streams: RecordedStream[];
  readonly #transports: ms.PlainTransport[];
  readonly #consumers: ms.Consumer[];
  readonly #keyframeIntervalMs: number;
  readonly #logger: Logger;
  #keyframeTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(opts: RecordingTapOptions, transports: ms.PlainTransport[], consumers: ms.Consumer[], streams: RecordedStream[]) {
    super((event, error) => opts.logger.error({ err: error, event }, 'RecordingTap listener threw'));
    this.#transports = transports;
    this.#consumers = consumers;
    this.streams = streams;
    this.#keyframeIntervalMs = opts.keyframeIntervalMs;
    this.#logger = opts.logger;
    for (const consumer of consumers) consumer.observer.once('close', () => this.close('producer-closed'));
  }

  /** Opens the transports and paused consumers. Closes what it opened if any step fails. */
  static async open(opts: RecordingTapOptions): Promise<RecordingTap> {
    const transports: ms.PlainTransport[] = [];
    const consumers: ms.Consumer[] = [];
    const streams: RecordedStream[] = [];
    const rtpCapabilities: ms.RtpCapabilities = {
      codecs: (opts.router.rtpCapabilities.codecs ?? []).filter((c) => !/\/rtx$/i.test(c.mimeType)),
      headerExtensions: [],
    };
    try {
      for (const producer of opts.producers) {
        const target = opts.target[producer.kind];
        const transport = await opts.router.createPlainTransport({
          listenInfo: { protocol: 'udp', ip: opts.listenIp },
          rtcpMux: false,
          comedia: false,
          // The hop to the recorder may cross a network: encrypted and authenticated, so
          // nobody can read the broadcast on the way or inject media into the recording.
          enableSrtp: true,
          srtpCryptoSuite: 'AES_CM_128_HMAC_SHA1_80',
          appData: { role: 'recording' },
        });
        transports.push(transport);
        await transport.connect({
          ip: opts.target.ip,
          port: target.rtpPort,
          rtcpPort: target.rtcpPort,
          srtpParameters: opts.target.srtp,
        });
        const srtp = transport.srtpParameters;
        if (srtp?.cryptoSuite !== 'AES_CM_128_HMAC_SHA1_80') throw new Error('the recording transport has no SRTP key');
        const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities, paused: true });
        consumers.push(consumer);
        if (consumer.type === 'simulcast' || consumer.type === 'svc') {
          // The best layer; mediasoup clamps to what the broadcaster actually sends.
          await consumer.setPreferredLayers({ spatialLayer: 15, temporalLayer: 15 });
        }
        const codec = consumer.rtpParameters.codecs[0];
        if (!codec) throw new Error(`no codec for the ${producer.kind} consumer`);
        streams.push({
          kind: producer.kind,
          payloadType: codec.payloadType,
          mimeType: codec.mimeType,
          clockRate: codec.clockRate,
          ...(codec.channels !== undefined ? { channels: codec.channels } : {}),
          parameters: Object.fromEntries(
            Object.entries(codec.parameters ?? {}).filter(
              (e): e is [string, string | number] => typeof e[1] === 'string' || typeof e[1] === 'number',
            ),
          ),
          rtpPort: target.rtpPort,
          rtcpPort: target.rtcpPort,
          srtp: { cryptoSuite: srtp.cryptoSuite, keyBase64: srtp.keyBase64 },
          sourceIp: UNSPECIFIED.has(transport.tuple.localAddress) ? null : transport.tuple.localAddress,
        });
      }
    } catch (error) {
      for (const t of transports) t.close();
      throw toAppError(error, 'open recording tap');
    }
    const tap = new RecordingTap(opts, transports, consumers, streams);
    const { srtp: _key, ...where } = opts.target;
    opts.logger.info({ tapId: tap.id, target: where, kinds: streams.map((s) => s.kind) }, 'recording tap opened');
    return tap;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The recorder listens: start sending, from a keyframe, and keep keyframes coming. */
  async resume(): Promise<void> {
    if (this.#closed) return;
    try {
      for (const consumer of this.#consumers) await consumer.resume();
      await this.requestKeyFrame();
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the await above; TS keeps the narrowing across it
      if (this.#closed) return;
      throw toAppError(error, 'resume recording tap');
    }
    this.#keyframeTimer ??= setInterval(() => void this.requestKeyFrame(), this.#keyframeIntervalMs);
    this.#keyframeTimer.unref();
  }

  async requestKeyFrame(): Promise<void> {
    for (const consumer of this.#consumers) {
      if (consumer.kind !== 'video' || consumer.closed) continue;
      await consumer.requestKeyFrame().catch((err: unknown) => this.#logger.debug({ err }, 'keyframe request failed'));
    }
  }

  /** Closes the transports (and so the consumers); emits 'close' once. Idempotent. */
  close(reason: RecordingTapCloseReason = 'closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#keyframeTimer) clearInterval(this.#keyframeTimer);
    for (const t of this.#transports) t.close();
    this.#logger.info({ tapId: this.id, reason }, 'recording tap closed');
    this.emit('close', reason);
    this.removeAllListeners();
  }
}
