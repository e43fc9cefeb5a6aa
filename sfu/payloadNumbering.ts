import type { types as ms } from 'mediasoup';
import { mediaCodecs } from './mediaCodecs.ts';

/**
 * Viewers whose device numbers the payload types itself.
 *
 * mediasoup's consumers send with their router's payload types, and a mediasoup-client viewer
 * takes those (the server offers). A WHEP player offers instead, and RTP it receives is read
 * with the payload types of its own offer (RFC 3264 §5.1; Chromium decodes nothing sent with
 * others). Such a viewer is served from an edge router of the broadcast whose codecs carry the
 * player's numbers (mediasoup's `preferredPayloadType`), fed from the origin by pipeToRouter
 * as any edge; players with the same numbering share it. Its retransmission payload types are
 * mediasoup's own, so these viewers get no RTX (NACKs are answered on the media stream).
 */
export interface PayloadNumbering {
  /** Equal for two numberings that make the same router. */
  key: string;
  /** The router's codecs: the broadcast's own (sfu/mediaCodecs.ts) with the device's payload types. */
  codecs: ms.RouterRtpCodecCapability[];
}

const h264Profile = (p: Record<string, unknown> | undefined) => {
  const id = p?.['profile-level-id'];
  return (typeof id === 'string' || typeof id === 'number' ? String(id) : '42e01f').slice(0, 4).toLowerCase();
};
const packetization = (p: Record<string, unknown> | undefined) => Number(p?.['packetization-mode'] ?? 0);

/** What two codecs are compared by. */
interface CodecLike {
  mimeType: string;
  clockRate: number;
  channels?: number | undefined;
  parameters?: Record<string, unknown> | undefined;
}

/** Whether two codecs are the same (mime type, clock rate, channels; H.264 profile and packetization mode). */
export function sameCodec(device: CodecLike, router: CodecLike): boolean {
  if (device.mimeType.toLowerCase() !== router.mimeType.toLowerCase() || device.clockRate !== router.clockRate) return false;
  if (router.mimeType.toLowerCase().startsWith('audio/') && (device.channels ?? 1) !== (router.channels ?? 1)) return false;
  if (router.mimeType.toLowerCase() === 'video/h264') {
    return h264Profile(device.parameters) === h264Profile(router.parameters) && packetization(device.parameters) === packetization(router.parameters);
  }
  return true;
}

/**
 * The numbering of a device's capabilities for the broadcast's codecs in use (`inUse`: its
 * producers' codecs, audio first: RTX payload types are allocated after each video codec, so
 * an audio type is never taken by one). Undefined when the device decodes none of them.
 */
export function payloadNumbering(device: ms.RtpCapabilities, inUse: ms.RtpCodecParameters[]): PayloadNumbering | undefined {
  const codecs: ms.RouterRtpCodecCapability[] = [];
  const ordered = [...inUse].sort((a, b) => Number(b.mimeType.toLowerCase().startsWith('audio/')) - Number(a.mimeType.toLowerCase().startsWith('audio/')));
  for (const used of ordered) {
    const ours = mediaCodecs.find((c) => sameCodec(used, c));
    if (!ours || codecs.some((c) => sameCodec(c, ours))) continue;
    const theirs = (device.codecs ?? []).find((c) => sameCodec(c, ours));
    if (theirs?.preferredPayloadType === undefined || codecs.some((c) => c.preferredPayloadType === theirs.preferredPayloadType)) continue;
    codecs.push({ ...ours, preferredPayloadType: theirs.preferredPayloadType });
  }
  if (codecs.length === 0) return undefined;
  return { key: JSON.stringify(codecs.map((c) => [c.mimeType, c.preferredPayloadType, h264Profile(c.parameters)])), codecs };
}

/** Whether a router with `codecs` can take a producer of `producerCodec` (what an edge of a numbering is fed). */
export function carries(codecs: ms.RouterRtpCodecCapability[], producerCodec: ms.RtpCodecParameters | undefined): boolean {
  if (!producerCodec) return false;
  return codecs.some((c) => sameCodec(producerCodec, c));
}
