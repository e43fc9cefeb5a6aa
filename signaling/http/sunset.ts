import { createHash } from 'node:crypto';
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
  // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- the regular expression matches only these five characters
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The farewell page's only style, inline so that the page needs nothing else from a closed service. */
const FAREWELL_STYLE = 'body{font:1.1rem/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1b1b1f}h1{font-size:2rem}';
/** The CSP `style-src` source that allows exactly that inline style. */
export const FAREWELL_STYLE_HASH = `'sha256-${createHash('sha256').update(FAREWELL_STYLE).digest('base64')}'`;

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
<style>${FAREWELL_STYLE}</style>
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

/**
 * The gate's rules, written as express routes so that they match exactly what the app's
 * routes match (express 5: case-insensitive, one optional trailing slash, mounts by path
 * segment) — never a hand-made comparison of the raw path, which `/API/…` or `…/` would
 * sidestep. A rule either lets the request go on (`next('router')`) or throws SERVICE_SUNSET.
 */
function gateRouter(sunset: SunsetService, phase: 'announced' | 'read-only' | 'export-only'): Router {
  const router = Router();
  const pass: RequestHandler = (_req, _res, next) => next('router');
  // Creating an account is refused from 'announced' on, whatever else the phase allows.
  router.post('/api/auth/signup', () => sunset.assertAllowed('signup'));
  if (phase !== 'export-only') return router;
  // Export-only: replays, downloads, archives, signing in and out, the sunset status; admins
  // may still cancel or move the dates. Everything else under /api is refused (default deny),
  // so a route added later is closed until it is listed here.
  router.use('/api/archives', pass);
  router.all(ADMIN_SUNSET_PATH, pass);
  router.get(['/api/sunset', '/api/auth/me'], pass);
  // Deleting a replay stays open (it is the user's data to remove); renaming and visibility do not.
  router.use('/api/replays', (req, _res, next) => next(req.method === 'GET' || req.method === 'HEAD' || req.method === 'DELETE' ? 'router' : undefined));
  // Signing out everywhere and changing the password stay open: they protect the account.
  router.post(['/api/auth/signin', '/api/auth/signout', '/api/auth/signout-everywhere', '/api/auth/password'], pass);
  // Deleting one's account too: it is the user's data to remove.
  router.delete('/api/account', pass);
  // Profiles, avatars and notifications stay readable; following, editing and marking read do not.
  router.use(['/api/users', '/api/avatars', '/api/notifications', '/api/account/profile', '/api/account/avatar'], (req, _res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') {
      next('router');
      return;
    }
    sunset.assertAllowed('profile');
    next();
  });
  router.use('/api', () => sunset.assertAllowed('broadcast'));
  // Anything else (the web client's pages and assets, the admin dashboard, probes) goes on.
  return router;
}

/**
 * Enforces the phase over HTTP; mounted first. 'off': every path but `/healthz` answers the
 * farewell page with 410. 'export-only': only what `gateRouter` lists under /api, else 403
 * SERVICE_SUNSET. From 'announced' on, sign-up is refused with SERVICE_SUNSET.
 */
export function sunsetGate(sunset: SunsetService): RequestHandler {
  const gates = {
    announced: gateRouter(sunset, 'announced'),
    'read-only': gateRouter(sunset, 'read-only'),
    'export-only': gateRouter(sunset, 'export-only'),
  };
  return (req: Request, res: Response, next: NextFunction): void => {
    const phase = sunset.phase();
    if (phase === 'none' || req.path === '/healthz') return next();
    if (phase === 'off') {
      res
        .status(410)
        .set({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
        .send(farewellHtml(sunset.schedule?.message ?? '', sunset.schedule?.offAt));
      return;
    }
    gates[phase](req, res, next);
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
