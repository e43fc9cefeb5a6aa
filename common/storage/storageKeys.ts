/**
 * The layout of the storage (Storage.ts): where each kind of object lives. The one place that
 * knows it; ids reach these functions already validated (BroadcastIdSchema, the archive id
 * pattern), and the storage checks every key again.
 */

/** The segments (and run metadata) of a broadcast's recording. */
export const recordingPrefix = (broadcastId: string): string => `recordings/${broadcastId}`;
/** One recorder run of it: 'run.json', 'seg-00000.mkv', … (workers/media/segments.ts). */
export const recordingRunPrefix = (broadcastId: string, runId: string): string => `${recordingPrefix(broadcastId)}/${runId}`;
export const recordingRunKey = (broadcastId: string, runId: string, file: string): string => `${recordingRunPrefix(broadcastId, runId)}/${file}`;

/** The replay of a broadcast: 'replay.mp4', 'poster.jpg', 'video.webm' or 'video.mp4', 'hls/…'. */
export const replayPrefix = (broadcastId: string): string => `replays/${broadcastId}`;
export const replayKey = (broadcastId: string, file: string): string => `${replayPrefix(broadcastId)}/${file}`;

/** A user's archive: its input snapshot and its zip. */
export const archivePrefix = (archiveId: string): string => `archives/${archiveId}`;
export const archiveKey = (archiveId: string, file: string): string => `${archivePrefix(archiveId)}/${file}`;
export const ARCHIVE_INPUT_FILE = 'input.json';

/** A user's avatars: one prefix per uploaded version (`avatars/<userId>/<version>/avatar.jpg`), so a new upload never overwrites a cached one. */
export const avatarsPrefix = (userId: string): string => `avatars/${userId}`;
export const avatarPrefix = (userId: string, version: string): string => `${avatarsPrefix(userId)}/${version}`;
export const AVATAR_FILE = 'avatar.jpg';
export const avatarKey = (userId: string, version: string): string => `${avatarPrefix(userId, version)}/${AVATAR_FILE}`;
