import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { normaliseSchedule, validateSchedule, type SunsetStatus } from '../../common/protocol/sunset.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';
import type { SunsetService } from '../sunset/SunsetService.ts';
import { requestUser } from './auth.ts';

/** The admin API of the sunset schedule. */
export const ADMIN_SUNSET_PATH = '/api/admin/sunset';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The static page served for every path once the service is off. */
export function farewellHtml(message: string, offAt: string | undefined): string {
  const when = offAt ? `<p>Spyglass closed on <time datetime="${escapeHtml(offAt)}">${escapeHtml(offAt.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC'))}</time>.</p>` : '';
  const text = message.trim() ? `<p class="message">${escapeHtml(message.trim())}</p>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Spyglass has closed</title>
<style>body{font:1.1rem/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1b1b1f}h1{font-size:2rem}</style>
</head>
<body>
<main>
<h1>Spyglass has closed</h1>
${when}
${text}
<p>Thank you for every broadcast, every message and every heart.</p>
</main>
</body>
</html>
`;
}

/** Paths that stay open in export-only besides page loads: replays, downloads, archives, signing in and out, the sunset status. */
function allowedInExportOnly(req: Request): boolean {
  const p = req.path;
  const read = req.method === 'GET' || req.method === 'HEAD';
  if (!p.startsWith('/api/')) return true; // the web client (pages, assets) and the admin dashboard
  if (p === '/api/archives' || p.startsWith('/api/archives/')) return true;
  if (p === ADMIN_SUNSET_PATH) return true; // admins may still cancel or move the dates
  if (read && (p === '/api/replays' || p.startsWith('/api/replays/') || p === '/api/sunset' || p === '/api/auth/me')) return true;
  if (req.method === 'POST' && (p === '/api/auth/signin' || p === '/api/auth/signout')) return true;
  return false;
}

/**
 * Enforces the phase over HTTP; mounted first. 'off': every path but `/healthz` answers the
 * farewell page with 410. 'export-only': only what `allowedInExportOnly` lists, else 403
 * SERVICE_SUNSET. From 'announced' on, sign-up is refused with SERVICE_SUNSET.
 */
export function sunsetGate(sunset: SunsetService): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const phase = sunset.phase();
    if (phase === 'none' || req.path === '/healthz') return next();
    if (phase === 'off') {
      res
        .status(410)
        .set({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
        .send(farewellHtml(sunset.schedule?.message ?? '', sunset.schedule?.offAt));
      return;
    }
    try {
      if (req.path === '/api/auth/signup') sunset.assertAllowed('signup');
      if (phase === 'export-only' && !allowedInExportOnly(req)) sunset.assertAllowed('broadcast');
    } catch (err) {
      return next(err);
    }
    next();
  };
}

export interface SunsetRoutesOptions {
  stores: Stores;
  sunset: SunsetService;
  logger: Logger;
}

/**
 * `GET /api/sunset` (public, for the banner) and the admin API `GET/PUT/DELETE
 * /api/admin/sunset`. Anyone who is not an admin gets the same 404 as for a missing route.
 * Mounted after the middleware that resolves the caller.
 */
export function sunsetRouter(o: SunsetRoutesOptions): Router {
  const router = Router();

  const status = (): SunsetStatus => {
    const now = o.sunset.clock();
    return { phase: o.sunset.phase(now), schedule: o.sunset.publicSchedule(now), now: new Date(now).toISOString() };
  };

  router.get('/api/sunset', (_req, res) => {
    res.set('Cache-Control', 'no-store').json(status());
  });

  // Admin is the role of an existing account (granted by id through the admin CLI), never a
  // name: a name could be registered later by anyone.
  const requireAdmin = (req: Request): UserRecord => {
    const user = requestUser(req);
    if (user?.role === 'admin') return user;
    throw new AppError('NOT_FOUND', `no route ${req.method} ${req.path}`);
  };

  const adminView = async () => {
    const now = o.sunset.clock();
    return {
      phase: o.sunset.phase(now),
      schedule: o.sunset.schedule,
      now: new Date(now).toISOString(),
      audit: await o.stores.audit.list({ limit: 20, actionPrefix: 'sunset.' }),
    };
  };

  router.get(ADMIN_SUNSET_PATH, async (req, res) => {
    requireAdmin(req);
    // Another process (or the CLI) may have changed it since the last refresh.
    await o.sunset.refresh();
    res.set('Cache-Control', 'no-store').json(await adminView());
  });

  router.put(ADMIN_SUNSET_PATH, async (req, res) => {
    const user = requireAdmin(req);
    const now = o.sunset.clock();
    const errors = validateSchedule(req.body, now);
    if (errors.length > 0) throw new AppError('VALIDATION_FAILED', errors.join('; '));
    const schedule = normaliseSchedule(req.body, now);
    const record = await o.stores.sunset.schedule(schedule, user.id);
    await o.stores.audit.record(user.id, 'sunset.schedule', { username: user.username, scheduleId: record.id, ...schedule });
    await o.sunset.refresh();
    o.logger.warn({ userId: user.id, schedule }, 'sunset scheduled');
    res.json(await adminView());
  });

  router.delete(ADMIN_SUNSET_PATH, async (req, res) => {
    const user = requireAdmin(req);
    const cancelled = await o.stores.sunset.cancel(user.id);
    if (cancelled) {
      await o.stores.audit.record(user.id, 'sunset.cancel', { username: user.username, scheduleId: cancelled.id });
      o.logger.warn({ userId: user.id }, 'sunset cancelled');
    }
    await o.sunset.refresh();
    res.json({ cancelled: cancelled !== undefined, ...(await adminView()) });
  });

  return router;
}
