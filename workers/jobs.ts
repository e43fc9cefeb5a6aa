import { z } from 'zod';
import { BroadcastIdSchema } from '../common/protocol/ids.ts';

/**
 * The contract between the signalling process and the workers process: queue names, job
 * payloads (validated with zod on both sides), the results the workers report back, and
 * the recording-tap messages they exchange over Redis pub/sub. This file is the only part
 * of workers/ that signaling/ may import (see docs/architecture.md).
 */

/** BullMQ queue names. Each deployment prefixes them with its own `prefix` (config.queuePrefix). */
export const QUEUES = {
  /** One long-running job per broadcast: records its media into segments. */
  record: 'record',
  /** One job per ended broadcast: turns the segments into the replay. */
  finalize: 'finalize',
  /** Workers → signalling: state changes to store and show (durable, unlike pub/sub). */
  results: 'results',
  /** Per-user archives ("Download your data"). */
  archive: 'archive',
  /** Sunset: one job per user, run by the signalling process, that has their archive built in the background. */
  sweep: 'archive-sweep',
} as const;

/** Deterministic job ids make both jobs idempotent: adding one twice is a no-op. */
export const recordJobId = (broadcastId: string): string => `record-${broadcastId}`;
export const finalizeJobId = (broadcastId: string): string => `finalize-${broadcastId}`;

export const RecordJobSchema = z.strictObject({ broadcastId: BroadcastIdSchema });
export type RecordJob = z.infer<typeof RecordJobSchema>;

export const FinalizeJobSchema = z.strictObject({ broadcastId: BroadcastIdSchema });
export type FinalizeJob = z.infer<typeof FinalizeJobSchema>;

const TimelineSpanSchema = z.strictObject({
  offsetMs: z.number().int().min(0),
  mediaStartMs: z.number().int().min(0),
  durationMs: z.number().int().min(0),
});

const FileInfoSchema = z.strictObject({
  /** Path relative to the replay directory. */
  name: z.string().min(1),
  sizeBytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/** What the finalize job reports when the quick remux is watchable ('preview') and when all is done ('ready'). */
export const ReplayOutputSchema = z.strictObject({
  durationMs: z.number().int().min(0),
  width: z.number().int().min(0).nullable(),
  height: z.number().int().min(0).nullable(),
  timeline: z.array(TimelineSpanSchema),
  /** Relative to the replay directory: 'poster.jpg', 'video.webm', 'replay.mp4', 'hls/index.m3u8'. */
  poster: z.string().nullable(),
  webm: z.string().nullable(),
  hls: z.string().nullable(),
  mp4: FileInfoSchema.nullable(),
});
export type ReplayOutput = z.infer<typeof ReplayOutputSchema>;

/** Reports from the workers to the signalling process, through the `results` queue. */
export const ResultJobSchema = z.union([
  /** The recording started (first run), or stopped before the broadcast ended, with why. */
  z.strictObject({
    type: z.literal('recording'),
    broadcastId: BroadcastIdSchema,
    state: z.enum(['started', 'stopped']),
    reason: z.string().max(500).nullable(),
  }),
  z.strictObject({
    type: z.literal('replay'),
    broadcastId: BroadcastIdSchema,
    state: z.enum(['preview', 'ready']),
    output: ReplayOutputSchema,
  }),
  z.strictObject({
    type: z.literal('replay'),
    broadcastId: BroadcastIdSchema,
    state: z.literal('failed'),
    reason: z.string().max(500),
  }),
  /** Archive progress (0–100), throttled by the worker to about one a second. */
  z.strictObject({ type: z.literal('archive'), archiveId: z.string(), state: z.literal('progress'), percent: z.number().min(0).max(100) }),
  z.strictObject({
    type: z.literal('archive'),
    archiveId: z.string(),
    state: z.literal('ready'),
    /** Relative to `<dataDir>/archives/<archiveId>/`. */
    fileName: z.string().regex(/^[A-Za-z0-9._-]+\.zip$/),
    sizeBytes: z.number().int().min(0),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  z.strictObject({ type: z.literal('archive'), archiveId: z.string(), state: z.literal('failed'), reason: z.string().max(500) }),
]);
export type ResultJob = z.infer<typeof ResultJobSchema>;

// --------------------------------------------------------- recording tap --

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
 * 'media-closed', 'lease-expired', 'replaced').
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

export const TapClosedSchema = z.strictObject({ tapId: z.string(), broadcastId: BroadcastIdSchema, reason: z.string() });
export type TapClosed = z.infer<typeof TapClosedSchema>;

// --------------------------------------------------------------- archives --

/**
 * A user's archive ("Download your data"). The signalling process snapshots what goes in
 * (from the database) into `<dataDir>/archives/<archiveId>/input.json` and enqueues the job;
 * the workers process streams the zip from that snapshot and the replay files, so it never
 * touches the database.
 */
export const ArchiveJobSchema = z.strictObject({
  archiveId: z.string().regex(/^a_[A-Za-z0-9_-]{8,40}$/),
  /** Background (sunset) archives are written no faster than this; absent = as fast as the disk allows. */
  maxBytesPerSecond: z.number().int().positive().optional(),
});
export type ArchiveJob = z.infer<typeof ArchiveJobSchema>;
export const archiveJobId = (archiveId: string): string => `archive-${archiveId}`;

const ArchiveChatSchema = z.strictObject({
  id: z.string(),
  username: z.string(),
  text: z.string(),
  /** ms since the broadcast started. */
  offsetMs: z.number().int().min(0),
  sentAt: z.string(),
});

export const ArchiveInputSchema = z.strictObject({
  archiveId: z.string(),
  createdAt: z.string(),
  appVersion: z.string(),
  profile: z.strictObject({ id: z.string(), username: z.string(), createdAt: z.string() }),
  /** The user's own broadcasts, each with its replay files (relative to `<dataDir>/replays/<id>/`) if any. */
  broadcasts: z.array(
    z.strictObject({
      id: BroadcastIdSchema,
      title: z.string(),
      visibility: z.enum(['public', 'private']),
      startedAt: z.string(),
      endedAt: z.string().nullable(),
      replay: z
        .strictObject({
          durationMs: z.number().int().min(0).nullable(),
          timeline: z.array(TimelineSpanSchema),
          /** e.g. 'replay.mp4', 'poster.jpg'; only files that exist. */
          files: z.array(z.string().regex(/^[a-z0-9._-]+$/)),
          /**
           * Size and SHA-256 of replay files as recorded when the replay was finalized (the
           * MP4's): the archive states them in its manifest instead of hashing the files again,
           * when the file still has that size. Absent from snapshots of older versions.
           */
          hashes: z
            .record(z.string().regex(/^[a-z0-9._-]+$/), z.strictObject({ sizeBytes: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) }))
            .optional(),
        })
        .nullable(),
      chat: z.array(ArchiveChatSchema),
      hearts: z.array(z.strictObject({ offsetMs: z.number().int().min(0), count: z.number().int().min(1) })),
    }),
  ),
  /** The user's own messages in other people's broadcasts. */
  chatElsewhere: z.array(ArchiveChatSchema.extend({ broadcastId: z.string(), broadcastTitle: z.string() })),
});
export type ArchiveInput = z.infer<typeof ArchiveInputSchema>;
