import { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { AppError, parseOrThrow } from '../../common/errors.ts';
import { ReportIdSchema, UserIdSchema } from '../../common/protocol/ids.ts';
import { ReportActionSchema, ReportCreateSchema, SuspendSchema } from '../../common/protocol/reports.ts';
import type { Moderation } from '../moderation/Moderation.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';
import { requestUser } from './auth.ts';

export interface ReportRoutesOptions {
  moderation: Moderation;
  stores: Stores;
}

const LIMIT_RULE = 'must be a whole number from 1 to 200';
const QueueQuerySchema = z.object({
  state: z.enum(['open', 'resolved'], { error: 'must be "open" or "resolved"' }).default('open'),
  limit: z
    .string({ error: LIMIT_RULE })
    .regex(/^[0-9]{1,3}$/, LIMIT_RULE)
    .transform(Number)
    .pipe(z.number().min(1, LIMIT_RULE).max(200, LIMIT_RULE))
    .default(50),
});

/**
 * `POST /api/reports` (signed in) and the admins' moderation API (docs/http-api.md,
 * "Reports and suspension"): `GET /api/admin/reports`, `POST /api/admin/reports/:id`,
 * `GET /api/admin/suspensions`, `PUT|DELETE /api/admin/users/:id/suspension`,
 * `GET /api/admin/audit`. To anyone but an admin every admin route answers the 404 of a
 * route that does not exist, before its input is read. Mounted after the middleware that
 * resolves the caller; the origin check has run before (state-changing requests).
 */
export function reportsRouter(o: ReportRoutesOptions): Router {
  const router = Router();

  router.post('/api/reports', async (req, res) => {
    const user = requestUser(req);
    if (!user) throw new AppError('UNAUTHENTICATED', 'sign in to report');
    const body = parseOrThrow(ReportCreateSchema, req.body ?? {});
    const { report, created } = await o.moderation.report(user, body);
    res.status(created ? 201 : 200).json({ report });
  });

  // Admin is the role of an existing account, read on every request.
  const requireAdmin = (req: Request): UserRecord => {
    const user = requestUser(req);
    if (user?.role === 'admin') return user;
    // Word for word the app's 404 for a path under /api that no route takes (createApp.ts).
    const underApi = `${req.baseUrl}${req.path}`.replace(/^\/api/i, '');
    throw new AppError('NOT_FOUND', `no route ${req.method} ${underApi.slice(0, 200)}`);
  };
  // Each admin route asks first, before reading its input; other paths under /api/admin (the
  // sunset API) are not this router's.
  const admin = Router();

  admin.get('/reports', async (req, res) => {
    requireAdmin(req);
    const q = parseOrThrow(QueueQuerySchema, req.query);
    const [reports, open] = await Promise.all([o.moderation.queue(q.state, q.limit), o.stores.reports.countOpen()]);
    res.set('Cache-Control', 'no-store').json({ reports, open });
  });

  admin.get('/reports/:id', async (req, res) => {
    requireAdmin(req);
    const id = ReportIdSchema.safeParse(req.params.id);
    if (!id.success) throw new AppError('NOT_FOUND', 'report not found');
    res.set('Cache-Control', 'no-store').json({ report: await o.moderation.get(id.data) });
  });

  admin.post('/reports/:id', async (req, res) => {
    const user = requireAdmin(req);
    const id = ReportIdSchema.safeParse(req.params.id);
    if (!id.success) throw new AppError('NOT_FOUND', 'report not found');
    const action = parseOrThrow(ReportActionSchema, req.body ?? {});
    res.json({ report: await o.moderation.act(user, id.data, action) });
  });

  admin.get('/suspensions', async (req, res) => {
    requireAdmin(req);
    res.set('Cache-Control', 'no-store').json({ suspensions: await o.moderation.suspended() });
  });

  const userIdOf = (req: Request) => {
    const id = UserIdSchema.safeParse(req.params.id);
    if (!id.success) throw new AppError('NOT_FOUND', 'user not found');
    return id.data;
  };

  admin.put('/users/:id/suspension', async (req, res) => {
    const user = requireAdmin(req);
    const userId = userIdOf(req);
    const { reason } = parseOrThrow(SuspendSchema, req.body ?? {});
    res.json({ suspension: await o.moderation.suspend(user, userId, reason) });
  });

  admin.delete('/users/:id/suspension', async (req, res) => {
    const user = requireAdmin(req);
    const lifted = await o.moderation.unsuspend(user, userIdOf(req));
    res.json({ lifted });
  });

  const AuditQuerySchema = z.object({
    limit: QueueQuerySchema.shape.limit,
  });
  admin.get('/audit', async (req, res) => {
    requireAdmin(req);
    const q = parseOrThrow(AuditQuerySchema, req.query);
    res.set('Cache-Control', 'no-store').json({ audit: await o.stores.audit.list({ limit: q.limit }) });
  });

  router.use('/api/admin', admin);

  // A refused report (429 RATE_LIMITED) says when to come back; the app's error middleware writes the body.
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const retry = (err as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
    if (err instanceof AppError && typeof retry === 'number') res.setHeader('Retry-After', String(retry));
    next(err);
  });
  return router;
}
