import express from 'express';
import { z } from 'zod';
import { AppError, parseOrThrow } from '../../common/errors.ts';
import { MarkReadSchema, type NotificationList, type NotificationView } from '../../common/protocol/profiles.ts';
import { personOf } from '../profiles/Profiles.ts';
import type { Stores } from '../store/index.ts';
import type { NotificationRecord } from '../store/NotificationStore.ts';
import { requestUser } from './auth.ts';

const LIMIT_RULE = 'must be a whole number from 1 to 100';
const ListQuerySchema = z.object({
  limit: z
    .string({ error: LIMIT_RULE })
    .regex(/^[0-9]{1,3}$/, LIMIT_RULE)
    .transform(Number)
    .pipe(z.number().min(1, LIMIT_RULE).max(100, LIMIT_RULE))
    .default(20),
});

/** A stored notification as its user reads it. */
export function notificationView(n: NotificationRecord): NotificationView {
  return { id: n.id, kind: n.kind, actor: personOf(n.actor), broadcast: n.broadcast, createdAt: n.createdAt, read: n.readAt !== null };
}

/**
 * The signed-in user's notifications (the header's bell): `GET /api/notifications?limit=N`
 * (newest first, with the unread count) and `POST /api/notifications/read` (`{ ids }` or
 * `{ all: true }`). New ones are pushed as `notification:new` (docs/protocol.md).
 */
export function notificationsRouter(o: { stores: Stores }): express.Router {
  const router = express.Router();

  router.get('/', async (req, res) => {
    const user = requestUser(req);
    if (!user) throw new AppError('UNAUTHENTICATED', 'sign in to see your notifications');
    const { limit } = parseOrThrow(ListQuerySchema, req.query);
    const [list, unread] = await Promise.all([o.stores.notifications.list(user.id, limit), o.stores.notifications.unreadCount(user.id)]);
    const body: NotificationList = { notifications: list.map(notificationView), unread };
    res.json(body);
  });

  router.post('/read', async (req, res) => {
    const user = requestUser(req);
    if (!user) throw new AppError('UNAUTHENTICATED', 'sign in to see your notifications');
    const mark = parseOrThrow(MarkReadSchema, req.body ?? {});
    await o.stores.notifications.markRead(user.id, 'all' in mark ? 'all' : mark.ids);
    res.json({ unread: await o.stores.notifications.unreadCount(user.id) });
  });

  return router;
}
