import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { AppError, parseOrThrow } from '../../common/errors.ts';
import { ReplayChangeSchema, type Visibility } from '../../common/protocol/events.ts';
import { BroadcastIdSchema, type BroadcastId, type UserId } from '../../common/protocol/ids.ts';
import type { ReplayDetail, ReplayList, ReplayState, ReplaySummary } from '../../common/protocol/replays.ts';
import { toMediaTime } from '../../common/replay/timeline.ts';
import { replayKey } from '../../common/storage/storageKeys.ts';
import type { BroadcastRecord } from '../store/BroadcastStore.ts';
import type { Stores } from '../store/index.ts';
import type { ReplayRecord } from '../store/ReplayStore.ts';
import type { BroadcastStatus } from '../store/schema.ts';
import { requestUser } from './auth.ts';
import type { StoredFileResponder } from './StoredFileResponder.ts';
import type { ReplayRemoval } from '../replays/ReplayRemoval.ts';
import type { UserRecord } from '../store/UserStore.ts';
import type { Blocking } from '../moderation/Blocking.ts';

export interface ReplayRoutesOptions {
  stores: Stores;
  /** Serves the replay files from the storage (`replays/<broadcastId>/…`, common/storage/storageKeys.ts). */
  files: StoredFileResponder;
  /** Deletes replays: database, then files (ReplayRemoval.ts). */
  removal: ReplayRemoval;
  /** A broadcaster's block list: whom they blocked finds none of their replays. */
  blocking: Pick<Blocking, 'isBlocked'>;
}

/**
 * The files a replay directory may hold, by the name the finalize job reports. These fixed
 * names (and the HLS pattern) are the only file names ever served: nothing from the URL or
 * the database reaches the file system except the validated broadcast id.
 */
const FILES = {
  poster: { name: 'poster.jpg', type: 'image/jpeg' },
  webm: { name: 'video.webm', type: 'video/webm' },
  videoMp4: { name: 'video.mp4', type: 'video/mp4' },
  mp4: { name: 'replay.mp4', type: 'video/mp4' },
  hls: { name: 'hls/index.m3u8', type: 'application/vnd.apple.mpegurl' },
} as const;
type FileKind = keyof typeof FILES;
const HLS_FILE = /^(index\.m3u8|seg-\d{3,6}\.ts)$/;

/** One answer for unknown ids, malformed ids and replays the caller may not see. */
const notFound = () => new AppError('NOT_FOUND', 'replay not found');
/** A deleted replay, to those who may know it existed (docs/security.md, "Deleted replays"). */
const gone = () => new AppError('REPLAY_DELETED', 'this replay was deleted by its owner');

const LIMIT_RULE = 'must be a whole number from 1 to 100';
const ListQuerySchema = z.object({
  scope: z.enum(['public', 'mine'], { error: 'must be "public" or "mine"' }).default('public'),
  limit: z
    .string({ error: LIMIT_RULE })
    .regex(/^[0-9]{1,3}$/, LIMIT_RULE)
    .transform(Number)
    .pipe(z.number().min(1, LIMIT_RULE).max(100, LIMIT_RULE))
    .default(50),
});

/** What a replay shows of its broadcast. */
export interface BroadcastView {
  id: BroadcastId;
  title: string;
  ownerId: UserId;
  ownerUsername: string;
  visibility: Visibility;
  status: BroadcastStatus;
  startedAt: string;
  endedAt: string | null;
}

/** Whether each file is there to serve: reported by the worker under its fixed name, and the broadcast is over. */
function filesOf(b: BroadcastView, r: ReplayRecord): Record<FileKind, boolean> {
  const ended = b.status === 'ended';
  return {
    poster: ended && r.poster === FILES.poster.name,
    webm: ended && r.webm === FILES.webm.name,
    videoMp4: ended && r.videoMp4 === FILES.videoMp4.name,
    mp4: ended && r.mp4?.name === FILES.mp4.name,
    hls: ended && r.hls === FILES.hls.name,
  };
}

/** A broadcast still on air has a replay that is recording (or already failed to), whatever the workers said. */
function stateOf(b: BroadcastView, r: ReplayRecord): ReplayState {
  if (b.status === 'ended') return r.state;
  return r.state === 'failed' ? 'failed' : 'recording';
}

const urlOf = (id: BroadcastId, file: string) => `/api/replays/${id}/${file}`;

/** A replay as lists show it (also the profiles' lists: profilesRouter.ts). */
export function toSummary(b: BroadcastView, r: ReplayRecord): ReplaySummary {
  return {
    id: b.id,
    title: b.title,
    owner: { id: b.ownerId, username: b.ownerUsername },
    visibility: b.visibility,
    state: stateOf(b, r),
    startedAt: b.startedAt,
    endedAt: b.endedAt,
    durationMs: b.status === 'ended' ? r.durationMs : null,
    posterUrl: filesOf(b, r).poster ? urlOf(b.id, FILES.poster.name) : null,
  };
}

/** Keeps a file name to what every file system and header accepts: no controls, separators or quotes. */
function cleanTitle(title: string): string {
  const cleaned = title
    .normalize('NFC')
    .replace(/[\u0000-\u001f\u007f-\u009f/\\:*?"<>|]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '');
  return Array.from(cleaned).slice(0, 80).join('').trim() || 'replay';
}

/** The same in ASCII: accents dropped, anything else outside `A-Z a-z 0-9 space . _ -` removed. */
function asciiTitle(title: string): string {
  const ascii = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9 ._-]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '');
  return ascii.slice(0, 80).trim() || 'replay';
}

/** `<title>-<YYYY-MM-DD>.mp4`: the UTF-8 name and its ASCII fallback. */
function downloadNames(b: BroadcastView): { utf8: string; ascii: string } {
  const date = b.startedAt.slice(0, 10);
  return { utf8: `${cleanTitle(b.title)}-${date}.mp4`, ascii: `${asciiTitle(b.title)}-${date}.mp4` };
}

/** RFC 6266 attachment with an ASCII `filename` and, for other titles, RFC 5987 `filename*`. */
function contentDisposition(names: { utf8: string; ascii: string }): string {
  const header = `attachment; filename="${names.ascii}"`;
  if (names.utf8 === names.ascii) return header;
  const encoded = encodeURIComponent(names.utf8).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${header}; filename*=UTF-8''${encoded}`;
}

/** The replay routes, mounted at /api/replays (docs/http-api.md). */
export function replaysRouter(o: ReplayRoutesOptions): express.Router {
  const router = express.Router();

  /** The broadcast and replay of `:id` if the caller may see them (and its owner did not block them); else the one NOT_FOUND. */
  async function visible(req: Request): Promise<{ b: BroadcastRecord; r: ReplayRecord }> {
    const parsed = BroadcastIdSchema.safeParse(req.params.id);
    if (!parsed.success) throw notFound();
    const b = await o.stores.broadcasts.get(parsed.data);
    if (!b) throw await missing(parsed.data, requestUser(req)?.id);
    const userId = requestUser(req)?.id;
    if (!o.stores.broadcasts.canView(b, userId)) throw notFound();
    if (userId !== undefined && (await o.blocking.isBlocked(b.ownerId, userId))) throw notFound();
    const r = await o.stores.replays.get(b.id);
    if (!r) throw notFound();
    return { b, r };
  }

  /**
   * Why a broadcast id has no broadcast: deleted (410 REPLAY_DELETED) when it was public, or
   * when the caller is its owner; else the one NOT_FOUND, so a deleted private replay answers
   * others exactly as an id that never existed.
   */
  async function missing(id: BroadcastId, userId: UserId | undefined): Promise<AppError> {
    const t = await o.stores.replays.tombstone(id);
    return t && (t.visibility === 'public' || t.ownerId === userId) ? gone() : notFound();
  }

  /**
   * The replay of `:id` if the caller owns it. Whoever may not see it gets what visible()
   * gives (404, or 410 when deleted); a signed-out caller who may see it 401; a signed-in one
   * who is not the owner (an invitee, another user, an admin) 403.
   */
  async function owned(req: Request): Promise<{ b: BroadcastRecord; r: ReplayRecord; user: UserRecord }> {
    const { b, r } = await visible(req);
    const user = requestUser(req);
    if (!user) throw new AppError('UNAUTHENTICATED', 'sign in to change your replays');
    if (b.ownerId !== user.id) throw new AppError('FORBIDDEN', 'only its owner may change or delete this replay');
    return { b, r, user };
  }

  /**
   * Streams a replay file from the storage (StoredFileResponder: Range → 206, an unsatisfiable
   * range → 416 with `Content-Range: bytes *\/size` and no body, If-None-Match /
   * If-Modified-Since → 304, HEAD). A file that is not there is NOT_FOUND.
   */
  async function sendReplayFile(req: Request, res: Response, b: BroadcastRecord, file: string, type: string, extra: Record<string, string> = {}): Promise<void> {
    await o.files.send(req, res, replayKey(b.id, file), {
      headers: {
        'Content-Type': type,
        // Private replays stay out of shared caches; everything revalidates by ETag.
        'Cache-Control': `${b.visibility === 'private' ? 'private' : 'public'}, max-age=0`,
        'X-Content-Type-Options': 'nosniff',
        ...extra,
      },
      notFound: () => new AppError('NOT_FOUND', 'replay file not found'),
    });
  }

  router.get('/', async (req, res) => {
    const query = parseOrThrow(ListQuerySchema, req.query);
    let items;
    if (query.scope === 'mine') {
      const user = requestUser(req);
      if (!user) throw new AppError('UNAUTHENTICATED', 'sign in to list your replays');
      items = await o.stores.replays.listByOwner(user.id, { limit: query.limit });
    } else {
      items = await o.stores.replays.listPublic({ limit: query.limit });
      // Replays of broadcasters who blocked the caller are left out.
      const userId = requestUser(req)?.id;
      if (userId !== undefined) {
        const blockers = await o.stores.moderation.blockersOf(userId);
        items = items.filter((i) => !blockers.has(i.ownerId));
      }
    }
    const body: ReplayList = { replays: items.map((i) => toSummary({ ...i, id: i.broadcastId, status: i.broadcastStatus }, i)) };
    res.json(body);
  });

  router.get('/:id', async (req, res) => {
    const { b, r } = await visible(req);
    const files = filesOf(b, r);
    const [chat, hearts] = await Promise.all([o.stores.chat.list(b.id), o.stores.chat.hearts(b.id)]);
    const detail: ReplayDetail = {
      ...toSummary(b, r),
      reason: r.reason,
      sources: {
        hls: files.hls ? urlOf(b.id, FILES.hls.name) : null,
        mp4: files.mp4 ? urlOf(b.id, FILES.mp4.name) : null,
        videoMp4: files.videoMp4 ? urlOf(b.id, FILES.videoMp4.name) : null,
        webm: files.webm ? urlOf(b.id, FILES.webm.name) : null,
      },
      download:
        files.mp4 && r.mp4
          ? { url: urlOf(b.id, 'download'), fileName: downloadNames(b).utf8, sizeBytes: r.mp4.sizeBytes, sha256: r.mp4.sha256 }
          : null,
      chat: chat.map((m) => ({ id: m.id, user: m.user, text: m.text, offsetMs: m.offsetMs, atMs: toMediaTime(r.timeline, m.offsetMs) })),
      hearts: hearts.map((h) => ({ atMs: toMediaTime(r.timeline, h.offsetMs), count: h.count })),
    };
    res.json(detail);
  });

  // Rename, and/or change who may watch (the broadcast has ended: it is only a replay now).
  router.patch('/:id', async (req, res) => {
    const { b, user } = await owned(req);
    const change = parseOrThrow(ReplayChangeSchema, req.body ?? {});
    let inviteeIds: UserId[] | undefined;
    if (change.visibility === 'private') {
      const wanted = [...new Set((change.invitees ?? []).map((u) => u.toLowerCase()))].filter((u) => u !== user.username.toLowerCase());
      const found = await o.stores.users.findIdsByUsernames(wanted);
      const unknown = wanted.filter((u) => !found.has(u));
      if (unknown.length > 0) throw new AppError('VALIDATION_FAILED', `unknown invitee(s): ${unknown.join(', ')}`);
      inviteeIds = [...found.values()];
    }
    const updated = await o.stores.broadcasts.updateEnded(b.id, { title: change.title, visibility: change.visibility, inviteeIds });
    // Deleted meanwhile by another request of the owner.
    if (!updated) throw gone();
    const r = await o.stores.replays.get(b.id);
    if (!r) throw gone();
    res.json({ replay: toSummary(updated, r), invitees: await usernamesOf(updated.invitees) });
  });

  // Deleting: the database at once (tombstone), the files right after (ReplayRemoval.ts).
  router.delete('/:id', async (req, res) => {
    const { b } = await owned(req);
    if (!(await o.removal.delete(b.id))) throw gone();
    res.status(204).end();
  });

  /** The usernames of the invitees, for the owner's editor. */
  async function usernamesOf(ids: UserId[]): Promise<string[]> {
    const names = await Promise.all(ids.map(async (id) => (await o.stores.users.findById(id))?.username));
    return names.filter((n): n is string => n !== undefined).sort();
  }

  // The owner's view of who is invited (the detail shows no invitees to anyone).
  router.get('/:id/invitees', async (req, res) => {
    const { b } = await owned(req);
    res.json({ invitees: await usernamesOf(b.invitees) });
  });

  for (const kind of ['poster', 'webm', 'videoMp4', 'mp4'] as const) {
    router.get(`/:id/${FILES[kind].name}`, async (req, res) => {
      const { b, r } = await visible(req);
      if (!filesOf(b, r)[kind]) throw new AppError('NOT_FOUND', 'replay file not found');
      await sendReplayFile(req, res, b, FILES[kind].name, FILES[kind].type);
    });
  }

  router.get('/:id/hls/:file', async (req, res) => {
    const { b, r } = await visible(req);
    const file = req.params.file;
    if (!filesOf(b, r).hls || typeof file !== 'string' || !HLS_FILE.test(file)) throw new AppError('NOT_FOUND', 'replay file not found');
    await sendReplayFile(req, res, b, `hls/${file}`, file.endsWith('.m3u8') ? FILES.hls.type : 'video/mp2t');
  });

  router.get('/:id/download', async (req, res) => {
    const { b, r } = await visible(req);
    if (!filesOf(b, r).mp4) throw new AppError('NOT_FOUND', 'replay file not found');
    await sendReplayFile(req, res, b, FILES.mp4.name, FILES.mp4.type, { 'Content-Disposition': contentDisposition(downloadNames(b)) });
  });

  return router;
}
