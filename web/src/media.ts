import { Device, detectDevice } from 'mediasoup-client';
import type * as ms from 'mediasoup-client/types';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { ConsumerOptions, RtpCapabilities, TransportOptions } from '../../common/protocol/media.ts';
import { ProtocolError } from '../../common/protocol/errors.ts';
import { chooseHandlerName } from './handler.ts';
import {
  isClientRtpParameters,
  toClientRtpCapabilities,
  toClientTransportOptions,
  toWireRtpCapabilities,
  toWireRtpParameters,
} from './rtp.ts';
import type { Signal } from './signaling.ts';
import { chooseVideoCodec, type VideoCodecChoice } from './videoCodec.ts';

/** Simulcast layers for the broadcaster's video: quarter, half and full resolution. */
export const SIMULCAST_ENCODINGS: readonly ms.RtpEncodingParameters[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
];

/** Camera and microphone constraints for going live. */
export const CAPTURE_CONSTRAINTS: MediaStreamConstraints = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30, max: 30 } },
};

/** mediasoup-client's detection, which throws in some environments instead of returning undefined. */
function detect(): string | undefined {
  try {
    return detectDevice();
  } catch {
    return undefined;
  }
}

/** The last Device loaded, by the router capabilities it was loaded with. */
let lastDevice: { key: string; device: Promise<Device>; loaded?: Device } | undefined;

/**
 * What the last Device loaded can receive, and the router capabilities it was loaded for
 * (`key`): a join may send these ahead (`broadcast:join` with `rtpCapabilities`) so that the
 * server consumes at once; undefined until a Device has loaded.
 */
export function lastRecvCapabilities(): { key: string; rtpCapabilities: RtpCapabilities } | undefined {
  const last = lastDevice;
  return last?.loaded ? { key: last.key, rtpCapabilities: toWireRtpCapabilities(last.loaded.recvRtpCapabilities) } : undefined;
}

/**
 * A mediasoup-client Device loaded for a router's capabilities. Loading one probes the browser
 * with a throwaway RTCPeerConnection (tens of ms), so the last one is kept and used again while
 * the capabilities are the same (every Spyglass router has the same codecs; a (re)join on a
 * router with other capabilities gets a new Device). A Device holds no per-transport state.
 */
export function loadDevice(rtpCapabilities: RtpCapabilities): Promise<Device> {
  const key = JSON.stringify(rtpCapabilities);
  if (lastDevice?.key === key) return lastDevice.device;
  const load = async (): Promise<Device> => {
    const handlerName = chooseHandlerName(navigator.userAgent, detect());
    const device = handlerName === undefined ? new Device() : new Device({ handlerName });
    await device.load({ routerRtpCapabilities: toClientRtpCapabilities(rtpCapabilities) });
    return device;
  };
  const entry: { key: string; device: Promise<Device>; loaded?: Device } = { key, device: load() };
  lastDevice = entry;
  entry.device.then(
    (device) => {
      entry.loaded = device;
    },
    () => {
      if (lastDevice === entry) lastDevice = undefined;
    },
  );
  return entry.device;
}

/** State of the WebRTC connection as the pages show it. */
export type ConnectionState = ms.ConnectionState;

/** Wires a transport's `connect` event to `transport:connect`. */
function onConnect(signal: Signal, broadcastId: BroadcastId, transport: ms.Transport): void {
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    signal
      .request('transport:connect', {
        broadcastId,
        transportId: transport.id,
        dtlsParameters: {
          ...(dtlsParameters.role === undefined ? {} : { role: dtlsParameters.role }),
          fingerprints: dtlsParameters.fingerprints,
        },
      })
      .then(() => callback(), errback);
  });
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** What `publish` returns: the live producers and an idempotent `close()`. */
export interface Publication {
  readonly producers: readonly ms.Producer[];
  readonly closed: boolean;
  /**
   * Sends `track` instead of the current video (camera ⇄ screen) on the same producer
   * (`replaceTrack`): no new producer, so viewers and the recording carry on. The old track
   * keeps running (the page owns it).
   */
  replaceVideo(track: MediaStreamTrack): Promise<void>;
  /** Closes producers and the send transport. Tracks keep running (the page owns them). */
  close(): void;
}

/** Options for `publish`. */
export interface PublishOptions {
  /** Called on every WebRTC connection state change of the send transport. */
  onConnectionState?: (state: ConnectionState) => void;
  /** The video codec (videoCodec.ts): 'auto' (default) sends H.264 where the browser encodes it, else VP8. */
  videoCodec?: VideoCodecChoice;
}

/**
 * Sends `stream` to the SFU for a broadcast the caller owns: creates a send transport,
 * produces the audio track (Opus) and the video track with three simulcast layers, in
 * H.264 Constrained Baseline where the browser can encode it (the replay's MP4 is then a
 * remux), else VP8.
 * Tracks are produced with `stopTracks: false` so that a resume can produce them again.
 */
export async function publish(
  signal: Signal,
  broadcastId: BroadcastId,
  rtpCapabilities: RtpCapabilities,
  stream: MediaStream,
  options: PublishOptions = {},
): Promise<Publication> {
  const device = await loadDevice(rtpCapabilities);
  const transport = device.createSendTransport(toClientTransportOptions(await signal.request('transport:create', { broadcastId })));
  const producers: ms.Producer[] = [];
  let closed = false;
  const publication: Publication = {
    get producers() {
      return producers;
    },
    get closed() {
      return closed;
    },
    close() {
      if (closed) return;
      closed = true;
      for (const p of producers) p.close();
      transport.close();
    },
    async replaceVideo(track) {
      const video = producers.find((p) => p.kind === 'video' && !p.closed);
      if (!video) throw new ProtocolError({ code: 'MEDIA_ERROR', message: 'no video is being sent to replace' });
      await video.replaceTrack({ track });
    },
  };

  onConnect(signal, broadcastId, transport);
  transport.on('produce', ({ kind, rtpParameters }, callback, errback) => {
    signal
      .request('produce', { broadcastId, transportId: transport.id, kind, rtpParameters: toWireRtpParameters(rtpParameters) })
      .then(({ producerId }) => callback({ id: producerId }), (err: unknown) => errback(toError(err)));
  });
  transport.on('connectionstatechange', (state) => options.onConnectionState?.(state));

  try {
    const audio = stream.getAudioTracks()[0];
    if (audio && device.canProduce('audio')) {
      const opus = device.sendRtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === 'audio/opus');
      producers.push(
        await transport.produce({
          track: audio,
          stopTracks: false,
          codecOptions: { opusStereo: false, opusDtx: true, opusFec: true },
          ...(opus === undefined ? {} : { codec: opus }),
        }),
      );
    }
    const video = stream.getVideoTracks()[0];
    if (video && device.canProduce('video')) {
      const codec = chooseVideoCodec(device.sendRtpCapabilities.codecs, options.videoCodec ?? 'auto');
      producers.push(
        await transport.produce({
          track: video,
          stopTracks: false,
          encodings: SIMULCAST_ENCODINGS.map((e) => ({ ...e })),
          codecOptions: { videoGoogleStartBitrate: 1000 },
          ...(codec === undefined ? {} : { codec }),
        }),
      );
    }
  } catch (err) {
    publication.close();
    throw err;
  }
  if (producers.length === 0) {
    publication.close();
    throw new ProtocolError({ code: 'MEDIA_ERROR', message: 'nothing to send: no camera or microphone track' });
  }
  return publication;
}

/** What `subscribe` returns. */
export interface Subscription {
  /** The current stream (a new MediaStream each time the set of tracks changes). */
  readonly stream: MediaStream;
  readonly closed: boolean;
  /** Closes consumers and the receive transport, and stops listening to `producer:new`. */
  close(): void;
}

/** Options for `subscribe`. */
export interface SubscribeOptions {
  /** Called with a fresh MediaStream whenever a track is added or replaced. */
  onStream?: (stream: MediaStream) => void;
  /** Called on every WebRTC connection state change of the receive transport. */
  onConnectionState?: (state: ConnectionState) => void;
  /** Called when consuming a new producer fails (the subscription stays open). */
  onError?: (err: unknown) => void;
  /** The receive transport `broadcast:join` answered with (`transport: true`); else `transport:create` makes one. */
  transport?: TransportOptions | undefined;
  /**
   * The consumers `broadcast:join` answered with on that transport, made for the capabilities
   * of the Device loaded for `deviceKey` (`lastRecvCapabilities()`). Used when that is the
   * Device for this join's router; otherwise the transport is made again and consumed anew.
   */
  consumers?: { offers: ConsumerOptions[]; deviceKey: string } | undefined;
}

/**
 * Receives a broadcast after `broadcast:join`: creates a receive transport, consumes every
 * producer (consumers start paused on the server and are resumed once created here), and
 * consumes again on each `producer:new`. A new track of a kind replaces the old one.
 */
export async function subscribe(
  signal: Signal,
  broadcastId: BroadcastId,
  rtpCapabilities: RtpCapabilities,
  options: SubscribeOptions = {},
): Promise<Subscription> {
  // The Device loads (or is the last one) while the transport is asked for, if it must be.
  const [device, joinTransport] = await Promise.all([
    loadDevice(rtpCapabilities),
    options.transport ?? signal.request('transport:create', { broadcastId }),
  ]);
  // Consumers made for another Device's capabilities (rare: another router's codecs) are not
  // used: a new transport (the server closes the old one with them) and a `consume` instead.
  let given = options.consumers?.deviceKey === JSON.stringify(rtpCapabilities) ? options.consumers.offers : undefined;
  const transportOptions =
    options.consumers !== undefined && given === undefined ? await signal.request('transport:create', { broadcastId }) : joinTransport;
  const transport = device.createRecvTransport(toClientTransportOptions(transportOptions));
  onConnect(signal, broadcastId, transport);
  transport.on('connectionstatechange', (state) => options.onConnectionState?.(state));

  const consumers = new Map<ms.MediaKind, ms.Consumer>();
  let stream = new MediaStream();
  let closed = false;

  const rebuild = (): void => {
    stream = new MediaStream([...consumers.values()].map((c) => c.track));
    options.onStream?.(stream);
  };

  const consumeAll = async (): Promise<void> => {
    const offers =
      given ??
      (
        await signal.request('consume', {
          broadcastId,
          transportId: transport.id,
          rtpCapabilities: toWireRtpCapabilities(device.recvRtpCapabilities),
        })
      ).consumers;
    given = undefined;
    if (closed || offers.length === 0) return;
    const checked = offers.map((offer) => {
      if (!isClientRtpParameters(offer.rtpParameters)) {
        throw new ProtocolError({ code: 'MEDIA_ERROR', message: `malformed rtpParameters for consumer ${offer.id}` });
      }
      return { ...offer, rtpParameters: offer.rtpParameters };
    });
    // All at once: mediasoup-client negotiates consumers asked for in the same tick in one
    // SDP round, and the resumes go out together (one round trip, not one per track).
    const settled = await Promise.allSettled(
      checked.map((offer) =>
        transport.consume({
          id: offer.id,
          producerId: offer.producerId,
          kind: offer.kind,
          rtpParameters: offer.rtpParameters,
          // One stream id for audio and video lets the browser keep them in lip sync.
          streamId: broadcastId,
        }),
      ),
    );
    const made = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = settled.find((r) => r.status === 'rejected');
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the await above; TS keeps the narrowing across it
    if (closed || failed) {
      for (const consumer of made) consumer.close();
      if (failed) throw failed.reason;
      return;
    }
    for (const consumer of made) {
      consumers.get(consumer.kind)?.close();
      consumers.set(consumer.kind, consumer);
      consumer.on('transportclose', () => {
        if (consumers.get(consumer.kind) === consumer) consumers.delete(consumer.kind);
      });
    }
    await Promise.all(made.map((consumer) => signal.request('consumer:resume', { broadcastId, consumerId: consumer.id })));
    rebuild();
  };

  // consume() answers only producers not yet consumed, so calls must not overlap.
  let queue: Promise<void> = Promise.resolve();
  const enqueue = (): Promise<void> => {
    const next = queue.then(() => (closed ? undefined : consumeAll()));
    queue = next.catch(() => undefined);
    return next;
  };

  const off = signal.on('producer:new', (e) => {
    if (e.broadcastId !== broadcastId || closed) return;
    enqueue().catch((err: unknown) => options.onError?.(err));
  });

  const subscription: Subscription = {
    get stream() {
      return stream;
    },
    get closed() {
      return closed;
    },
    close() {
      if (closed) return;
      closed = true;
      off();
      for (const c of consumers.values()) c.close();
      consumers.clear();
      transport.close();
    },
  };

  try {
    await enqueue();
  } catch (err) {
    subscription.close();
    throw err;
  }
  return subscription;
}

/** Screen-sharing constraints: video only (the microphone stays the camera capture's), at most 30 fps. */
export const SCREEN_CONSTRAINTS: DisplayMediaStreamOptions = { video: { frameRate: { ideal: 30, max: 30 } }, audio: false };

/**
 * Asks the browser for a screen, window or tab to share (its own picker; must run from a
 * click). Resolves with its video track, hinted as detailed content (text stays sharp, the
 * frame rate gives way first).
 */
export async function captureScreen(): Promise<MediaStreamTrack> {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- mediaDevices is undefined outside a secure context, and getDisplayMedia on mobile browsers, whatever the DOM types say
  if (navigator.mediaDevices?.getDisplayMedia === undefined) {
    throw new ProtocolError({ code: 'MEDIA_ERROR', message: 'this browser cannot share its screen' });
  }
  const shared = await navigator.mediaDevices.getDisplayMedia(SCREEN_CONSTRAINTS);
  const [track] = shared.getVideoTracks();
  for (const t of shared.getAudioTracks()) t.stop();
  if (!track) throw new ProtocolError({ code: 'MEDIA_ERROR', message: 'the browser shared no video' });
  track.contentHint = 'detail';
  return track;
}

/** A camera video track alone (going back from the screen to the camera; the microphone runs on). */
export async function captureCameraVideo(): Promise<MediaStreamTrack> {
  const camera = await navigator.mediaDevices.getUserMedia({ video: CAPTURE_CONSTRAINTS.video ?? true });
  const [track] = camera.getVideoTracks();
  if (!track) throw new ProtocolError({ code: 'MEDIA_ERROR', message: 'no camera' });
  return track;
}

/** Asks for camera and microphone; the error names are the browser's (NotAllowedError, NotFoundError…). */
export async function capture(): Promise<MediaStream> {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- mediaDevices is undefined outside a secure context, whatever the DOM types say
  if (navigator.mediaDevices?.getUserMedia === undefined) {
    throw new ProtocolError({
      code: 'MEDIA_ERROR',
      message: 'this page needs a secure context (https or localhost) to use the camera',
    });
  }
  return navigator.mediaDevices.getUserMedia(CAPTURE_CONSTRAINTS);
}
