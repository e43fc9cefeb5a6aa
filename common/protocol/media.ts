import { z } from 'zod';

/**
 * Schemas for the mediasoup objects that cross the wire. They bound sizes and check
 * shapes before anything reaches mediasoup, which then applies its own ORTC validation.
 */
const shortString = z.string().min(1).max(128);
const paramValue = z.union([z.string().max(256), z.number(), z.boolean()]);
const parameters = z.record(z.string().max(64), paramValue).refine((o) => Object.keys(o).length <= 32, 'too many parameters');

export const RtcpFeedbackSchema = z.object({ type: shortString, parameter: z.string().max(64).optional() });

export const RtpCodecParametersSchema = z.object({
  mimeType: z.string().regex(/^(audio|video)\/[A-Za-z0-9_.-]+$/, 'mimeType must look like "video/VP8"'),
  payloadType: z.number().int().min(0).max(127),
  clockRate: z.number().int().positive().max(1_000_000),
  channels: z.number().int().min(1).max(8).optional(),
  parameters: parameters.optional(),
  rtcpFeedback: z.array(RtcpFeedbackSchema).max(32).optional(),
});

export const RtpEncodingParametersSchema = z.object({
  ssrc: z.number().int().min(0).max(0xffffffff).optional(),
  rid: z.string().max(32).optional(),
  codecPayloadType: z.number().int().min(0).max(127).optional(),
  rtx: z.object({ ssrc: z.number().int().min(0).max(0xffffffff) }).optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: z.string().max(16).optional(),
  scaleResolutionDownBy: z.number().positive().max(64).optional(),
  maxBitrate: z.number().int().positive().max(100_000_000).optional(),
  maxFramerate: z.number().positive().max(240).optional(),
  adaptivePtime: z.boolean().optional(),
  priority: z.enum(['very-low', 'low', 'medium', 'high']).optional(),
  networkPriority: z.enum(['very-low', 'low', 'medium', 'high']).optional(),
  active: z.boolean().optional(),
});

export const RtpHeaderExtensionParametersSchema = z.object({
  uri: z.string().min(1).max(256),
  id: z.number().int().min(1).max(255),
  encrypt: z.boolean().optional(),
  parameters: parameters.optional(),
});

export const RtpParametersSchema = z.object({
  mid: z.string().max(32).optional(),
  codecs: z.array(RtpCodecParametersSchema).min(1).max(16),
  headerExtensions: z.array(RtpHeaderExtensionParametersSchema).max(32).optional(),
  // The worker maps every encoding by its SSRC or its RID: one with neither is refused here, not by mediasoup.
  encodings: z
    .array(RtpEncodingParametersSchema)
    .max(4)
    .refine((es) => es.every((e) => e.ssrc !== undefined || e.rid !== undefined), 'every encoding needs an ssrc or a rid')
    .optional(),
  rtcp: z
    .object({ cname: z.string().max(256).optional(), reducedSize: z.boolean().optional(), mux: z.boolean().optional() })
    .optional(),
  msid: z.string().max(256).optional(),
});

export const RtpCodecCapabilitySchema = z.object({
  kind: z.enum(['audio', 'video']),
  mimeType: z.string().regex(/^(audio|video)\/[A-Za-z0-9_.-]+$/),
  preferredPayloadType: z.number().int().min(0).max(127).optional(),
  clockRate: z.number().int().positive().max(1_000_000),
  channels: z.number().int().min(1).max(8).optional(),
  parameters: parameters.optional(),
  rtcpFeedback: z.array(RtcpFeedbackSchema).max(32).optional(),
});

export const RtpCapabilitiesSchema = z.object({
  codecs: z.array(RtpCodecCapabilitySchema).max(64).optional(),
  headerExtensions: z
    .array(
      z.object({
        kind: z.enum(['audio', 'video']),
        uri: z.string().min(1).max(256),
        preferredId: z.number().int().min(1).max(255),
        preferredEncrypt: z.boolean().optional(),
        direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
      }),
    )
    .max(64)
    .optional(),
});

export const DtlsParametersSchema = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(
      z.object({
        algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
        value: z.string().regex(/^[0-9A-Fa-f:]{20,200}$/, 'fingerprint must be hex pairs'),
      }),
    )
    .min(1)
    .max(8),
});

const TURN_URL = /^turns?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(\?transport=(udp|tcp))?$/;

/**
 * A TURN server URI (RFC 7065) as browsers take it: `turn:` or `turns:` (TLS), a host name
 * or IP address (IPv6 in brackets), an optional port (1–65535), an optional
 * `?transport=udp|tcp`.
 */
export const TurnUrlSchema = z
  .string()
  .max(256)
  .regex(TURN_URL, 'must be a TURN URL such as turn:turn.example.org:3478?transport=udp or turns:turn.example.org:443?transport=tcp')
  .refine((u) => {
    const port = TURN_URL.exec(u)?.[2];
    return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
  }, 'the port of a TURN URL is 1–65535');

/**
 * TURN servers for one WebRTC transport, with time-limited credentials (an RTCIceServer;
 * docs/operations.md, "TURN"): `username` is `<expiry, Unix seconds>:<opaque id>`.
 */
export const IceServerSchema = z.strictObject({
  urls: z.array(TurnUrlSchema).min(1).max(8),
  username: z.string().min(1).max(256),
  credential: z.string().min(1).max(256),
});

export type IceServer = z.infer<typeof IceServerSchema>;
export type RtpParameters = z.infer<typeof RtpParametersSchema>;
export type RtpCapabilities = z.infer<typeof RtpCapabilitiesSchema>;
export type DtlsParameters = z.infer<typeof DtlsParametersSchema>;
export type MediaKind = 'audio' | 'video';

/** What the server sends a client to create its side of a WebRTC transport. */
export interface TransportOptions {
  id: string;
  iceParameters: { usernameFragment: string; password: string; iceLite?: boolean };
  iceCandidates: Array<{
    foundation: string;
    priority: number;
    address: string;
    ip?: string;
    protocol: 'udp' | 'tcp';
    port: number;
    type: 'host' | 'srflx' | 'prflx' | 'relay';
    tcpType?: 'passive' | undefined;
  }>;
  dtlsParameters: DtlsParameters;
  /** TURN servers the browser may relay this transport through; only when the node has TURN configured. */
  iceServers?: IceServer[];
  /** `relay`: the browser must relay through TURN (`turn.forceRelay`); absent: any path. */
  iceTransportPolicy?: 'all' | 'relay';
}

/** What the server sends a viewer to create a consumer. */
export interface ConsumerOptions {
  id: string;
  producerId: string;
  kind: MediaKind;
  rtpParameters: unknown;
}
