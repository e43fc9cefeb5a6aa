import { toMediaTime } from '../../common/replay/timeline.ts';
import type { ArchiveInput } from '../../common/jobs/archiveInput.ts';

/**
 * What goes into a user's archive, as pure data: the JSON documents per broadcast and the
 * data the offline viewer embeds. No file system here (see buildArchive.ts for the zip).
 */

/** Replay files copied into the archive, in this order. Anything else (the preview, video.webm or video.mp4, and hls/) is skipped. */
export const ARCHIVE_REPLAY_FILES = ['replay.mp4', 'poster.jpg'] as const;
export type ArchiveReplayFile = (typeof ARCHIVE_REPLAY_FILES)[number];

export const ARCHIVE_FORMAT = 'spyglass-archive/1';

type InputBroadcast = ArchiveInput['broadcasts'][number];

/** The top folder inside the zip: `spyglass-<username>`, reduced to characters that are safe in any file system. */
export function archiveRootName(username: string): string {
  const safe = username.replace(/[^A-Za-z0-9_-]/g, '_').replace(/^_+|_+$/g, '').slice(0, 64);
  return `spyglass-${safe || 'user'}`;
}

/** The allowed replay files the input lists for a broadcast (never a name outside ARCHIVE_REPLAY_FILES). */
export function replayFilesOf(b: InputBroadcast): ArchiveReplayFile[] {
  const listed = new Set(b.replay?.files ?? []);
  return ARCHIVE_REPLAY_FILES.filter((f) => listed.has(f));
}

/** Video time (ms) of a broadcast offset, when the broadcast has a replay with media. */
function mediaTimeOf(b: InputBroadcast): ((offsetMs: number) => number) | null {
  const timeline = b.replay?.timeline;
  if (!timeline || timeline.length === 0) return null;
  return (offsetMs) => toMediaTime(timeline, offsetMs);
}

export interface ArchiveChatEntry {
  id: string;
  username: string;
  text: string;
  /** ms since the broadcast started, as stored. */
  offsetMs: number;
  sentAt: string;
  /** Replay video time (ms), when there is a replay. */
  atMs?: number;
  /** Your own message that the broadcaster (or an admin) removed: in your archive only, marked. */
  removed?: { by: 'broadcaster' | 'admin'; at: string };
}

export interface ArchiveHeartEntry {
  offsetMs: number;
  count: number;
  atMs?: number;
}

/** Where the profile's avatar is in the archive (when the user uploaded one). */
export const ARCHIVE_AVATAR_PATH = 'profile/avatar.jpg';

/**
 * `profile.json`: the profile as snapshotted; its `avatar` names the image's path in the
 * archive (null: none uploaded). Snapshots of older versions (no profile fields) as they are.
 */
export function profileJson(profile: ArchiveInput['profile'], hasAvatar: boolean) {
  if (profile.avatar === undefined) return profile;
  return { ...profile, avatar: hasAvatar ? ARCHIVE_AVATAR_PATH : null };
}

export function broadcastJson(b: InputBroadcast, included: readonly ArchiveReplayFile[]) {
  return {
    id: b.id as string,
    title: b.title,
    visibility: b.visibility,
    startedAt: b.startedAt,
    endedAt: b.endedAt,
    replay: b.replay ? { durationMs: b.replay.durationMs, files: [...included] } : null,
  };
}

export function chatJson(b: InputBroadcast): ArchiveChatEntry[] {
  const at = mediaTimeOf(b);
  return [...b.chat]
    .sort((x, y) => x.offsetMs - y.offsetMs)
    .map((m) => ({
      id: m.id,
      username: m.username,
      text: m.text,
      offsetMs: m.offsetMs,
      sentAt: m.sentAt,
      ...(at ? { atMs: at(m.offsetMs) } : {}),
      ...(m.removed ? { removed: m.removed } : {}),
    }));
}

export function heartsJson(b: InputBroadcast): ArchiveHeartEntry[] {
  const at = mediaTimeOf(b);
  return [...b.hearts]
    .sort((x, y) => x.offsetMs - y.offsetMs)
    .map((h) => ({ offsetMs: h.offsetMs, count: h.count, ...(at ? { atMs: at(h.offsetMs) } : {}) }));
}

/** The data the offline viewer embeds (index.html cannot fetch JSON over file://). */
export interface ViewerData {
  username: string;
  exportedAt: string;
  broadcasts: Array<{
    id: string;
    title: string;
    visibility: 'public' | 'private';
    startedAt: string;
    endedAt: string | null;
    durationMs: number | null;
    /** Relative to index.html; null without a replay video. */
    video: string | null;
    poster: string | null;
    /** `removed`: who removed this message of yours ('broadcaster' or 'admin'); absent when it shows. */
    chat: Array<{ username: string; text: string; offsetMs: number; atMs: number | null; removed?: 'broadcaster' | 'admin' }>;
    hearts: Array<{ count: number; atMs: number }>;
  }>;
  chatElsewhere: Array<{ broadcastTitle: string; text: string; sentAt: string; removed?: 'broadcaster' | 'admin' }>;
}

export function viewerData(input: ArchiveInput, exportedAt: string, included: ReadonlyMap<string, readonly ArchiveReplayFile[]>): ViewerData {
  return {
    username: input.profile.username,
    exportedAt,
    broadcasts: [...input.broadcasts]
      .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
      .map((b) => {
        const files = included.get(b.id) ?? [];
        const video = files.includes('replay.mp4') ? `broadcasts/${b.id}/replay.mp4` : null;
        return {
          id: b.id,
          title: b.title,
          visibility: b.visibility,
          startedAt: b.startedAt,
          endedAt: b.endedAt,
          durationMs: b.replay?.durationMs ?? null,
          video,
          poster: files.includes('poster.jpg') ? `broadcasts/${b.id}/poster.jpg` : null,
          chat: chatJson(b).map((m) => ({
            username: m.username,
            text: m.text,
            offsetMs: m.offsetMs,
            atMs: video ? (m.atMs ?? null) : null,
            ...(m.removed ? { removed: m.removed.by } : {}),
          })),
          hearts: video ? heartsJson(b).flatMap((h) => (h.atMs === undefined ? [] : [{ count: h.count, atMs: h.atMs }])) : [],
        };
      }),
    chatElsewhere: input.chatElsewhere.map((m) => ({ broadcastTitle: m.broadcastTitle, text: m.text, sentAt: m.sentAt, ...(m.removed ? { removed: m.removed.by } : {}) })),
  };
}
