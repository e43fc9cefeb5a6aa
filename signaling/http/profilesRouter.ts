import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { AppError, parseOrThrow } from '../../common/errors.ts';
import { UserIdSchema, UsernameSchema } from '../../common/protocol/ids.ts';
import { ProfileChangeSchema, type FollowList } from '../../common/protocol/profiles.ts';
import type { ReplayList } from '../../common/protocol/replays.ts';
import { PROFILE_RULES } from '../../common/protocol/rules.ts';
import { avatarKey } from '../../common/storage/storageKeys.ts';
import { defaultAvatarSvg } from '../profiles/defaultAvatar.ts';
import { AVATAR_VERSION, avatarUrl, personOf, userNotFound, type Profiles } from '../profiles/Profiles.ts';
import type { FollowCursor } from '../store/FollowStore.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';
import { requestUser } from './auth.ts';
import { CursorSchema, encodeCursor } from './broadcastsRouter.ts';
import { toSummary } from './replays.ts';
import type { StoredFileResponder } from './StoredFileResponder.ts';

export interface ProfileRoutesOptions {
  profiles: Profiles;
  stores: Stores;
  /** Serves the stored avatars (`avatars/<userId>/<version>/avatar.jpg`). */
  files: StoredFileResponder;
}

/** Page sizes of a profile's replays. */
export const PROFILE_REPLAY_PAGE = { default: 12, max: 50 } as const;
const LIMIT_RULE = `must be a whole number from 1 to ${PROFILE_REPLAY_PAGE.max}`;
const ReplayPageSchema = z.object({
  limit: z
    .string({ error: LIMIT_RULE })
    .regex(/^[0-9]{1,3}$/, LIMIT_RULE)
    .transform(Number)
    .pipe(z.number().min(1, LIMIT_RULE).max(PROFILE_REPLAY_PAGE.max, LIMIT_RULE))
    .default(PROFILE_REPLAY_PAGE.default),
  cursor: CursorSchema.optional(),
});

/** Page sizes of a profile's follower and following lists. */
export const FOLLOW_PAGE = { default: 50, max: 100 } as const;
const FOLLOW_LIMIT_RULE = `must be a whole number from 1 to ${FOLLOW_PAGE.max}`;
const FOLLOW_CURSOR_RULE = 'must be a nextCursor from the previous page';
const FollowPageSchema = z.object({
  limit: z
    .string({ error: FOLLOW_LIMIT_RULE })
    .regex(/^[0-9]{1,3}$/, FOLLOW_LIMIT_RULE)
    .transform(Number)
    .pipe(z.number().min(1, FOLLOW_LIMIT_RULE).max(FOLLOW_PAGE.max, FOLLOW_LIMIT_RULE))
    .default(FOLLOW_PAGE.default),
  cursor: z
    .string({ error: FOLLOW_CURSOR_RULE })
    .max(200, FOLLOW_CURSOR_RULE)
    .regex(/^[A-Za-z0-9_-]+$/, FOLLOW_CURSOR_RULE)
    .transform((raw, ctx): FollowCursor => {
      const m = /^(\d{1,16})\.(.+)$/.exec(Buffer.from(raw, 'base64url').toString('utf8'));
      const id = m ? UserIdSchema.safeParse(m[2]) : undefined;
      const since = m ? Number(m[1]) : NaN;
      if (!m || !id?.success || !Number.isSafeInteger(since)) {
        ctx.addIssue({ code: 'custom', message: FOLLOW_CURSOR_RULE });
        return z.NEVER;
      }
      return { since, id: id.data };
    })
    .optional(),
});
const encodeFollowCursor = (c: FollowCursor): string => Buffer.from(`${c.since}.${c.id}`).toString('base64url');

/** An uploaded avatar's version in its URL (`<version>.jpg`), or the generated one. */
const AVATAR_FILE = /^([A-Za-z0-9_-]{16})\.jpg$/;
const MB = PROFILE_RULES.avatarMaxBytes / (1024 * 1024);

/** The username of `:username`, or the one NOT_FOUND (a malformed name is a name nobody has). */
function usernameOf(req: Request): string {
  const parsed = UsernameSchema.safeParse(req.params.username);
  if (!parsed.success) throw userNotFound();
  return parsed.data;
}

function signedIn(req: Request, why: string): UserRecord {
  const user = requestUser(req);
  if (!user) throw new AppError('UNAUTHENTICATED', why);
  return user;
}

/**
 * Profiles, following and avatars (docs/http-api.md, "Profiles and following"):
 * `GET /api/users/:username`, `GET /api/users/:username/replays`, `PUT|DELETE
 * /api/users/:username/follow`, `GET /api/users/:username/followers|following`, `GET /api/avatars/:userId` (a redirect), `GET /api/avatars/:userId/:file`, `PATCH /api/account/profile`,
 * `PUT|DELETE /api/account/avatar`. Mounted after the middleware that resolves the caller.
 */
export function profilesRouter(o: ProfileRoutesOptions): express.Router {
  const router = express.Router();

  router.get('/api/users/:username', async (req, res) => {
    res.json({ profile: await o.profiles.view(usernameOf(req), requestUser(req)) });
  });

  // The replays a profile lists: public ones; private ones to the owner and invitees only.
  router.get('/api/users/:username/replays', async (req, res) => {
    const owner = await o.profiles.find(usernameOf(req));
    const query = parseOrThrow(ReplayPageSchema, req.query);
    // One more than asked tells whether another page follows.
    const rows = await o.stores.replays.listProfile({ ownerId: owner.id, viewerId: requestUser(req)?.id, limit: query.limit + 1, after: query.cursor });
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    const body: ReplayList & { nextCursor: string | null } = {
      replays: page.map((i) => toSummary({ ...i, id: i.broadcastId, status: i.broadcastStatus }, i)),
      nextCursor: rows.length > query.limit && last ? encodeCursor({ startedAt: last.startedAt, id: last.broadcastId }) : null,
    };
    res.json(body);
  });

  // Who follows them, and whom they follow: public like the counts (a profile is public), newest first, paged.
  for (const side of ['followers', 'following'] as const) {
    router.get(`/api/users/:username/${side}`, async (req, res) => {
      const owner = await o.profiles.find(usernameOf(req));
      const query = parseOrThrow(FollowPageSchema, req.query);
      // One more than asked tells whether another page follows.
      const rows = await o.stores.follows.page(owner.id, side, query.limit + 1, query.cursor);
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      const body: FollowList = {
        people: page.map((p) => ({ ...personOf(p), since: new Date(p.since).toISOString() })),
        nextCursor: rows.length > query.limit && last ? encodeFollowCursor(last) : null,
      };
      res.json(body);
    });
  }

  // Following: the account must exist (else the one 404), then the caller be signed in.
  router.put('/api/users/:username/follow', async (req, res) => {
    const username = usernameOf(req);
    await o.profiles.find(username);
    res.json(await o.profiles.follow(signedIn(req, 'sign in to follow'), username));
  });
  router.delete('/api/users/:username/follow', async (req, res) => {
    const username = usernameOf(req);
    await o.profiles.find(username);
    res.json(await o.profiles.unfollow(signedIn(req, 'sign in to follow'), username));
  });

  // A person's current avatar by their id alone (lists that carry only { id, username }: chat
  // lines, the viewer list, broadcast cards): a redirect to the versioned file or the generated
  // one, cached for a minute (so a new upload shows in lists within a minute).
  router.get('/api/avatars/:userId', async (req, res) => {
    const id = UserIdSchema.safeParse(req.params.userId);
    const profile = id.success ? await o.stores.profiles.get(id.data) : undefined;
    if (!profile) throw new AppError('NOT_FOUND', 'avatar not found');
    res.set('Cache-Control', 'public, max-age=60').redirect(302, avatarUrl(profile));
  });

  router.get('/api/avatars/:userId/:file', async (req, res) => {
    const notFound = () => new AppError('NOT_FOUND', 'avatar not found');
    const id = UserIdSchema.safeParse(req.params.userId);
    const file = req.params.file;
    const profile = id.success ? await o.stores.profiles.get(id.data) : undefined;
    if (!profile) throw notFound();
    if (file === 'default.svg') {
      res
        .set({ 'Content-Type': 'image/svg+xml; charset=utf-8', 'Cache-Control': 'public, max-age=86400', 'X-Content-Type-Options': 'nosniff' })
        .send(defaultAvatarSvg(profile.username));
      return;
    }
    const version = AVATAR_FILE.exec(file)?.[1];
    // Only the current version is served: a replaced or removed avatar is gone.
    if (version === undefined || version !== profile.avatar || !AVATAR_VERSION.test(version)) throw notFound();
    await o.files.send(req, res, avatarKey(profile.id, version), {
      headers: {
        'Content-Type': 'image/jpeg',
        // A new upload has a new URL: this one never changes.
        'Cache-Control': 'public, max-age=31536000, immutable',
        'X-Content-Type-Options': 'nosniff',
      },
      notFound,
    });
  });

  router.get('/api/account/profile', async (req, res) => {
    res.json({ profile: await o.profiles.own(signedIn(req, 'sign in to see your profile')) });
  });

  router.patch('/api/account/profile', async (req, res) => {
    const user = signedIn(req, 'sign in to edit your profile');
    const change = parseOrThrow(ProfileChangeSchema, req.body ?? {});
    res.json({ profile: await o.profiles.update(user, change) });
  });

  // The image as the request body (any image Content-Type; ffprobe decides what it is), at most 5 MB.
  // Signed in before a byte of the body is read.
  router.put(
    '/api/account/avatar',
    (req, _res, next) => {
      signedIn(req, 'sign in to change your avatar');
      next();
    },
    express.raw({ type: () => true, limit: PROFILE_RULES.avatarMaxBytes }),
    async (req, res) => {
      const user = signedIn(req, 'sign in to change your avatar');
      const body: unknown = req.body;
      const upload = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
      res.json({ profile: await o.profiles.setAvatar(user, upload) });
    },
  );

  router.delete('/api/account/avatar', async (req, res) => {
    res.json({ profile: await o.profiles.removeAvatar(signedIn(req, 'sign in to change your avatar')) });
  });

  // A body over the limit, said in the avatar's terms (the app's error middleware writes it).
  router.use('/api/account/avatar', (err: unknown, _req: Request, _res: Response, next: NextFunction) => {
    const e = err as { type?: unknown; limit?: unknown } | null;
    next(e?.type === 'entity.too.large' && e.limit === PROFILE_RULES.avatarMaxBytes ? new AppError('PAYLOAD_TOO_LARGE', `the avatar image must be at most ${MB} MB`) : err);
  });

  return router;
}
