import { Device } from 'mediasoup-client';
import type * as msc from 'mediasoup-client/types';
import { io, type Socket } from 'socket.io-client';
import { CAPTURE_CONSTRAINTS, SIMULCAST_ENCODINGS } from '../../web/src/media.ts';

/**
 * The raw-mediasoup page of the time-to-first-frame benchmark (bundled by esbuild, served by
 * raw.child.ts): the smallest mediasoup-client broadcaster and viewer, no Spyglass code
 * except the broadcaster's capture constraints and simulcast layers, taken from
 * web/src/media.ts so that both paths send the same thing.
 *
 *   window.raw.broadcast()  camera → send transport → Opus + VP8 (3 simulcast layers)
 *   window.raw.join()       new socket.io connection → Device → recv transport → consume
 *                           every producer (paused on the server) → resume → a new <video>
 *   window.raw.leave()      closes the socket (the server closes its transports)
 */

interface TransportInfo {
  id: string;
  iceParameters: msc.IceParameters;
  iceCandidates: msc.IceCandidate[];
  dtlsParameters: msc.DtlsParameters;
}

interface ConsumerInfo {
  id: string;
  producerId: string;
  kind: msc.MediaKind;
  rtpParameters: msc.RtpParameters;
}

function connect(): Promise<Socket> {
  const socket = io({ transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

function request<T>(socket: Socket, event: string, payload: unknown = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.timeout(10_000).emit(event, payload, (err: Error | null, res: { ok: true; data: T } | { ok: false; error: string }) => {
      if (err) reject(err);
      else if (!res.ok) reject(new Error(`${event}: ${res.error}`));
      else resolve(res.data);
    });
  });
}

async function loadDevice(socket: Socket): Promise<Device> {
  const device = new Device({ handlerName: 'Chrome111' });
  await device.load({ routerRtpCapabilities: await request<msc.RtpCapabilities>(socket, 'rtpCapabilities') });
  return device;
}

function wireConnect(socket: Socket, transport: msc.Transport): void {
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    request(socket, 'connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
  });
}

let viewer: { socket: Socket; video: HTMLVideoElement; transport?: msc.Transport } | null = null;
let caster: Socket | null = null;

const raw = {
  async broadcast(): Promise<void> {
    const stream = await navigator.mediaDevices.getUserMedia(CAPTURE_CONSTRAINTS);
    const socket = await connect();
    caster = socket;
    const device = await loadDevice(socket);
    const transport = device.createSendTransport(await request<TransportInfo>(socket, 'createTransport'));
    wireConnect(socket, transport);
    transport.on('produce', ({ kind, rtpParameters }, callback, errback) => {
      request<{ id: string }>(socket, 'produce', { transportId: transport.id, kind, rtpParameters }).then(callback, errback);
    });
    const opus = device.sendRtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === 'audio/opus');
    await transport.produce({
      track: stream.getAudioTracks()[0]!,
      codecOptions: { opusStereo: false, opusDtx: true, opusFec: true },
      ...(opus === undefined ? {} : { codec: opus }),
    });
    await transport.produce({
      track: stream.getVideoTracks()[0]!,
      encodings: SIMULCAST_ENCODINGS.map((e) => ({ ...e })),
      codecOptions: { videoGoogleStartBitrate: 1000 },
    });
  },

  async join(): Promise<void> {
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.setAttribute('aria-label', 'Raw video');
    document.body.append(video);
    const socket = await connect();
    viewer = { socket, video };
    const device = await loadDevice(socket);
    const transport = device.createRecvTransport(await request<TransportInfo>(socket, 'createTransport'));
    viewer.transport = transport;
    wireConnect(socket, transport);
    const offers = await request<ConsumerInfo[]>(socket, 'consume', { transportId: transport.id, rtpCapabilities: device.recvRtpCapabilities });
    const tracks: MediaStreamTrack[] = [];
    for (const offer of offers) {
      const consumer = await transport.consume({ ...offer, streamId: 'raw' });
      await request(socket, 'resume', { consumerId: consumer.id });
      tracks.push(consumer.track);
      video.srcObject = new MediaStream(tracks);
      void video.play().catch(() => undefined);
    }
  },

  leave(): void {
    viewer?.transport?.close();
    viewer?.socket.close();
    if (viewer) viewer.video.srcObject = null;
    viewer?.video.remove();
    viewer = null;
  },

  casting: () => caster?.connected ?? false,
};

declare global {
  interface Window {
    raw: typeof raw;
  }
}
window.raw = raw;
