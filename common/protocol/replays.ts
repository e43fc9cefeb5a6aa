import type { BroadcastId, ChatMessageId } from './ids.ts';
import type { UserSummary, Visibility } from './events.ts';

/**
 * The replay HTTP API's wire shapes (docs/http-api.md). Browser-safe: no zod, no Node.
 *
 * A replay goes 'recording' (the broadcast is live) → 'processing' (the broadcast ended,
 * the finalize job runs) → 'ready' | 'failed'. While processing, a preview may already play
 * (`sources.webm` or `sources.videoMp4`, the recording copied); the MP4 download and the HLS VOD follow.
 */
export type ReplayState = 'recording' | 'processing' | 'ready' | 'failed';

/** One replay in a list (own replays, public replays). */
export interface ReplaySummary {
  id: BroadcastId;
  title: string;
  owner: UserSummary;
  visibility: Visibility;
  state: ReplayState;
  startedAt: string;
  endedAt: string | null;
  /** Length of the replay video; null until known. */
  durationMs: number | null;
  /** URL of the thumbnail JPEG; null until it exists. */
  posterUrl: string | null;
}

/** Where the replay's media can be fetched. Each is null until it exists. */
export interface ReplaySources {
  /** HLS VOD playlist (H.264/AAC), for seeking in the browser. */
  hls: string | null;
  /** The downloadable MP4 (H.264/AAC, faststart), served inline (Range requests work). */
  mp4: string | null;
  /** An H.264 replay's preview: its H.264 and Opus as recorded, in MP4 (faststart), ready first; also seekable. */
  videoMp4: string | null;
  /** A VP8/VP9 replay's preview: its streams as recorded, in WebM, ready first; also seekable. */
  webm: string | null;
}

export interface ReplayDownload {
  /** GET this URL: Content-Disposition attachment, Range requests (206) supported. */
  url: string;
  fileName: string;
  sizeBytes: number;
  /** Hex SHA-256 of the file, to verify a download. */
  sha256: string;
}

/** A chat message placed on the replay's video timeline. */
export interface ReplayChatMessage {
  id: ChatMessageId;
  user: UserSummary;
  text: string;
  /** Milliseconds since the broadcast started, as stored. */
  offsetMs: number;
  /** Milliseconds of replay video time at which it shows. */
  atMs: number;
}

/** Hearts sent in one flush interval, placed on the replay's video timeline. */
export interface ReplayHearts {
  atMs: number;
  count: number;
}

/** GET /api/replays/:id */
export interface ReplayDetail extends ReplaySummary {
  /** Why processing failed, or why the recording stopped early (e.g. disk space); else null. */
  reason: string | null;
  sources: ReplaySources;
  download: ReplayDownload | null;
  chat: ReplayChatMessage[];
  hearts: ReplayHearts[];
}

/** GET /api/replays?scope=public|mine */
export interface ReplayList {
  replays: ReplaySummary[];
}
