import { z } from 'zod';
import { BroadcastIdSchema } from '../protocol/ids.ts';

/**
 * The recording tap, over Redis pub/sub (common/redisRpc.ts). The worker listens for SRTP
 * on `host` only (its own address, reachable from the SFU) and asks the signalling node that
 * hosts the broadcast to send it there from a mediasoup PlainTransport with SRTP:
 *
 *   open      → the SFU creates paused consumers and answers with their codecs, so the
 *               worker can write the SDP and start ffmpeg;
 *   resume    → ffmpeg is listening: consumers resume and a keyframe is requested; the
 *               answer carries the broadcast offset at that moment (the run's start);
 *   heartbeat → every second; a tap without one for `tapLeaseMs` is closed by the SFU.
 *
 * The SFU announces closed taps on `tapChannels(prefix).closed` ('ended', 'producers-changed',
 * 'media-closed', 'lease-expired', 'replaced'). A node that takes a broadcast over from a dead
 * origin announces 'origin-moved' for the broadcast with no tap id: every tap of it is gone
 * with the old origin, and the recorder asks again at once (the new origin answers).
 */
export function tapChannels(queuePrefix: string): { rpc: string; closed: string } {
  // Namespaced like the queues, so deployments (and test runs) sharing a Redis never answer each other.
  return { rpc: `${queuePrefix}:tap`, closed: `${queuePrefix}:tap:closed` };
}

const portSchema = z.number().int().min(1).max(65535);
const RtpTargetSchema = z.strictObject({ rtpPort: portSchema, rtcpPort: portSchema });

/**
 * SRTP keys of one direction of the tap (SDES, RFC 4568): the one suite mediasoup's
 * PlainTransport and ffmpeg 5.1 both speak, and its 30-byte master key + salt in base64.
 * Keys travel over Redis: keep Redis private (docs/recording.md). Never log them.
 */
export const TapSrtpSchema = z.strictObject({
  cryptoSuite: z.literal('AES_CM_128_HMAC_SHA1_80'),
  keyBase64: z.string().regex(/^[A-Za-z0-9+/]{40}$/, 'a base64 30-byte master key + salt'),
});
export type TapSrtp = z.infer<typeof TapSrtpSchema>;

export const TapRequestSchema = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('open'),
    broadcastId: BroadcastIdSchema,
    /** IP address the SFU sends RTP to. */
    host: z.union([z.ipv4(), z.ipv6()]),
    video: RtpTargetSchema,
    audio: RtpTargetSchema,
    /**
     * The key the SFU expects on what the recorder sends back (RTCP), made by the worker
     * for this run. The SFU sends with its own keys, answered per stream.
     */
    srtp: TapSrtpSchema,
  }),
  z.strictObject({ op: z.literal('resume'), tapId: z.string().min(1).max(100) }),
  z.strictObject({ op: z.literal('heartbeat'), tapId: z.string().min(1).max(100) }),
  z.strictObject({ op: z.literal('close'), tapId: z.string().min(1).max(100) }),
]);
export type TapRequest = z.infer<typeof TapRequestSchema>;

/** One recorded track as the SDP needs it. */
export const TapStreamSchema = z.strictObject({
  kind: z.enum(['audio', 'video']),
  payloadType: z.number().int().min(0).max(127),
  /** e.g. 'video/VP8', 'video/H264', 'audio/opus'. */
  mimeType: z.string().min(1),
  clockRate: z.number().int().min(1),
  channels: z.number().int().min(1).optional(),
  /** fmtp parameters, e.g. { 'packetization-mode': 1 }. */
  parameters: z.record(z.string(), z.union([z.string(), z.number()])),
  rtpPort: portSchema,
  rtcpPort: portSchema,
  /** The key the SFU encrypts this stream with (RTP and RTCP); the recorder decrypts with it. */
  srtp: TapSrtpSchema,
  /**
   * The address the SFU sends this stream from (its PlainTransport's local address), so the
   * recorder accepts packets from there only; null when the SFU listens on every address.
   */
  sourceIp: z.union([z.ipv4(), z.ipv6()]).nullable(),
});
export type TapStream = z.infer<typeof TapStreamSchema>;

/**
 * Answers. `open`: 'not-ready' while the broadcaster has no media yet (ask again), 'ended'
 * when the broadcast is over (finish the job). `heartbeat`: 'ok' or 'closed' with why.
 */
export const TapResponseSchema = z.discriminatedUnion('status', [
  z.strictObject({ status: z.literal('opened'), tapId: z.string(), streams: z.array(TapStreamSchema).min(1) }),
  z.strictObject({ status: z.literal('resumed'), offsetMs: z.number().int().min(0) }),
  z.strictObject({ status: z.literal('ok') }),
  z.strictObject({ status: z.literal('not-ready') }),
  z.strictObject({ status: z.literal('ended') }),
  z.strictObject({ status: z.literal('closed'), reason: z.string() }),
]);
export type TapResponse = z.infer<typeof TapResponseSchema>;

/** A closed tap; without `tapId`, every tap of the broadcast. */
export const TapClosedSchema = z.strictObject({ tapId: z.string().optional(), broadcastId: BroadcastIdSchema, reason: z.string() });
export type TapClosed = z.infer<typeof TapClosedSchema>;
