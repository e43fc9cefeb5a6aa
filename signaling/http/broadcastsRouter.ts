import express from 'express';
import { z } from 'zod';
import { AppError, parseOrThrow } from '../../common/errors.ts';
import type { BroadcastList } from '../../common/protocol/events.ts';
import { BroadcastIdSchema } from '../../common/protocol/ids.ts';
import type { LiveService } from '../live/LiveService.ts';
import { toSummary } from '../live/LiveBroadcast.ts';
import type { ListCursor } from '../store/BroadcastStore.ts';
import type { Stores } from '../store/index.ts';
import { requestUser } from './auth.ts';
import type { Blocking } from '../moderation/Blocking.ts';

export interface BroadcastRoutesOptions {
  stores: Stores;
  live: LiveService;
  /** A broadcaster's block list: whom they blocked finds none of their broadcasts. */
  blocking: Pick<Blocking, 'isBlocked'>;
}

/** Page sizes of `GET /api/broadcasts`. */
export const BROADCAST_PAGE = { default: 20, max: 100 } as const;

const LIMIT_RULE = `must be a whole number from 1 to ${BROADCAST_PAGE.max}`;
const CURSOR_RULE = 'must be the nextCursor of an earlier page';

/** A cursor is `<startedAt ms>.<broadcast id>` in base64url: opaque to clients, checked here. */
export function encodeCursor(c: ListCursor): string {
  return Buffer.from(`${Date.parse(c.startedAt)}.${c.id}`).toString('base64url');
}

/** Reads a cursor made by `encodeCursor` (also the profiles' replay pages). */
export const CursorSchema = z
  .string({ error: CURSOR_RULE })
  .max(200, CURSOR_RULE)
  .regex(/^[A-Za-z0-9_-]+$/, CURSOR_RULE)
  .transform((raw, ctx) => {
    const m = /^(\d{1,16})\.(.+)$/.exec(Buffer.from(raw, 'base64url').toString('utf8'));
    const id = m ? BroadcastIdSchema.safeParse(m[2]) : undefined;
    const ms = m ? Number(m[1]) : NaN;
    if (!m || !id?.success || !Number.isSafeInteger(ms)) {
      ctx.addIssue({ code: 'custom', message: CURSOR_RULE });
      return z.NEVER;
    }
    return { startedAt: new Date(ms).toISOString(), id: id.data } satisfies ListCursor;
  });

const ListQuerySchema = z.object({
  limit: z
    .string({ error: LIMIT_RULE })
    .regex(/^[0-9]{1,3}$/, LIMIT_RULE)
    .transform(Number)
    .pipe(z.number().min(1, LIMIT_RULE).max(BROADCAST_PAGE.max, LIMIT_RULE))
    .default(BROADCAST_PAGE.default),
  cursor: CursorSchema.optional(),
  /** `true`: only the broadcasts of people the caller follows (signed in). */
  following: z.enum(['true', 'false'], { error: 'must be "true" or "false"' }).optional(),
});

/** `GET /api/broadcasts` (one page of what the caller may see) and `GET /api/broadcasts/:id`. */
export function broadcastsRouter(o: BroadcastRoutesOptions): express.Router {
  const router = express.Router();

  router.get('/', async (req, res) => {
    const query = parseOrThrow(ListQuerySchema, req.query);
    const viewerId = requestUser(req)?.id;
    if (query.following === 'true' && viewerId === undefined) throw new AppError('UNAUTHENTICATED', 'sign in to see whom you follow');
    // One more than asked tells whether another page follows.
    const rows = await o.stores.broadcasts.listLiveVisible({
      viewerId,
      limit: query.limit + 1,
      after: query.cursor,
      followedBy: query.following === 'true' ? viewerId : undefined,
    });
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    // Broadcasters who blocked the caller are left out (the cursor still follows every row, so a page may be shorter).
    const blockers: ReadonlySet<string> = viewerId ? await o.stores.moderation.blockersOf(viewerId) : new Set();
    const body: BroadcastList = {
      broadcasts: page.filter((b) => !blockers.has(b.ownerId)).map((b) => o.live.liveSummary(b.id) ?? toSummary(b, 0)),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null,
    };
    res.json(body);
  });

  router.get('/:id', async (req, res) => {
    const parsed = BroadcastIdSchema.safeParse(req.params.id);
    const record = parsed.success ? await o.stores.broadcasts.get(parsed.data) : undefined;
    // Private broadcasts the caller may not see, and those of broadcasters who blocked the caller, are indistinguishable from missing ones.
    const userId = requestUser(req)?.id;
    if (!record || !o.stores.broadcasts.canView(record, userId) || (userId !== undefined && (await o.blocking.isBlocked(record.ownerId, userId)))) {
      throw new AppError('NOT_FOUND', 'broadcast not found');
    }
    res.json({ broadcast: o.live.liveSummary(record.id) ?? toSummary(record, 0) });
  });

  return router;
}
