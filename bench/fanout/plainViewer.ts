import { randomBytes } from 'node:crypto';
import type { types as ms } from 'mediasoup';

/**
 * The benchmark's viewer, the same for both paths (raw mediasoup and Spyglass): one
 * PlainTransport with SRTP (the fan-out uses AEAD_AES_256_GCM, what mediasoup negotiates with
 * Chromium; the cascade benchmark AES_CM_128_HMAC_SHA1_80; RTP and RTCP muxed) sending to a UDP
 * sink, and one consumer per producer — the data plane of a WebRTC viewer without ICE and
 * DTLS. Consumers use the capabilities given (by default the router's own, with RTX, header
 * extensions and transport-cc, as a browser's would; the Spyglass path passes them through
 * Spyglass's `viewerRtpCapabilities`, as sfu/Viewer does), start unpaused, and get no RTCP
 * back (no NACK, no bandwidth estimate).
 */

export type SrtpSuite = 'AEAD_AES_256_GCM' | 'AES_CM_128_HMAC_SHA1_80';

/** Master key + salt lengths (RFC 7714 and RFC 3711). */
const KEY_BYTES: Record<SrtpSuite, number> = { AEAD_AES_256_GCM: 44, AES_CM_128_HMAC_SHA1_80: 30 };

export interface PlainViewer {
  transport: ms.PlainTransport;
  consumers: ms.Consumer[];
}

/** The sinks never decrypt: any master key + salt will do for the (unused) receive direction. */
const sinkKeys = new Map<SrtpSuite, string>();

export async function attachPlainViewer(
  router: ms.Router,
  producers: readonly ms.Producer[],
  sinkPort: number,
  suite: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80',
  rtpCapabilities: ms.RtpCapabilities = router.rtpCapabilities,
): Promise<PlainViewer> {
  let keyBase64 = sinkKeys.get(suite);
  if (!keyBase64) sinkKeys.set(suite, (keyBase64 = randomBytes(KEY_BYTES[suite]).toString('base64')));
  const transport = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
    rtcpMux: true,
    comedia: false,
    enableSrtp: true,
    srtpCryptoSuite: suite,
    appData: { role: 'bench-viewer' },
  });
  try {
    await transport.connect({ ip: '127.0.0.1', port: sinkPort, srtpParameters: { cryptoSuite: suite, keyBase64 } });
    const consumers: ms.Consumer[] = [];
    for (const producer of producers) {
      consumers.push(await transport.consume({ producerId: producer.id, rtpCapabilities, paused: false }));
    }
    return { transport, consumers };
  } catch (error) {
    transport.close();
    throw error;
  }
}

/** The payload types consumers of `router` will send VP8 and Opus with (what the sinks count by). */
export function consumerPayloadTypes(router: ms.Router): { video: number; audio: number } {
  const pt = (mime: string) => {
    const codec = router.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === mime);
    if (codec?.preferredPayloadType === undefined) throw new Error(`router offers no ${mime}`);
    return codec.preferredPayloadType;
  };
  return { video: pt('video/vp8'), audio: pt('audio/opus') };
}

/** RTP packets a consumer has sent so far (its outbound stream, RTX excluded). */
export async function consumerPacketsSent(consumer: ms.Consumer): Promise<number> {
  const stats = await consumer.getStats();
  return stats.reduce((sum, s) => sum + (s.type === 'outbound-rtp' ? s.packetCount : 0), 0);
}
