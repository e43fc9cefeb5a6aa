import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { AppError, toWireError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { BroadcastIdSchema } from '../../common/protocol/ids.ts';
import type { LiveService } from '../live/LiveService.ts';
import { toSummary } from '../live/LiveBroadcast.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';
import { requestUser, userFrom } from './auth.ts';
import { authRouter, type AuthRouterOptions } from './authRouter.ts';
import type { ArchiveService } from '../archive/ArchiveService.ts';
import { archivesRouter } from './archives.ts';
import { replaysRouter } from './replays.ts';
import type { SunsetService } from '../sunset/SunsetService.ts';
import { sunsetGate, sunsetRouter } from './sunset.ts';

export interface AppOptions {
  stores: Stores;
  live: LiveService;
  logger: Logger;
  /** Directory of the built web client (index.html + assets); pages are not served when absent. */
  webRoot: string;
  /** Mark cookies Secure (HTTPS, directly or behind a proxy). */
  secureCookies: boolean;
  trustProxy: boolean;
  /** Readiness: resolves when the database and media workers answer. */
  ready: () => Promise<void>;
  /** The data directory: replay files are served from `<dataDir>/replays/<broadcastId>/`. */
  dataDir: string;
  /** "Download your data"; absent when background jobs are disabled. */
  archives?: ArchiveService | undefined;
  /** Routers for admins (e.g. the job dashboard), mounted before the web client's catch-all. */
  adminRouters?: Router[];
  /** Sunset mode (docs/sunset.md): its gate runs before everything, its API beside the others. */
  sunset?: { service: SunsetService };
  /** The auth routes' own dependencies (signaling/http/authRouter.ts). */
  auth: Omit<AuthRouterOptions, 'stores' | 'logger' | 'secureCookies'>;
}

type Async = (req: Request, res: Response) => Promise<unknown>;
/** Express 5 forwards rejected promises to the error middleware; this only types the handlers. */
const route = (fn: Async) => (req: Request, res: Response) => fn(req, res);

/** Builds the express app: JSON API under /api, health probes, and the web client. */
export function createApp(o: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  if (o.sunset) app.use(sunsetGate(o.sunset.service));
  if (o.trustProxy) app.set('trust proxy', true);
  app.use(express.json({ limit: '16kb' }));

  // Who is calling: cookie or bearer token. Invalid tokens are anonymous, never errors.
  app.use(async (req, _res, next) => {
    try {
      const user = await userFrom(o.stores, { cookie: req.headers.cookie, authorization: req.headers.authorization });
      (req as Request & { user?: UserRecord | undefined }).user = user;
      next();
    } catch (err) {
      next(err);
    }
  });

  app.get('/healthz', (_req, res) => void res.json({ ok: true }));
  app.get(
    '/readyz',
    route(async (_req, res) => {
      try {
        await o.ready();
        res.json({ ok: true });
      } catch (err) {
        o.logger.warn({ err }, 'not ready');
        res.status(503).json({ error: { code: 'UNAVAILABLE', message: 'not ready' } });
      }
    }),
  );

  app.use(authRouter({ stores: o.stores, logger: o.logger, secureCookies: o.secureCookies, ...o.auth }));

  app.get(
    '/api/broadcasts',
    route(async (req, res) => {
      const user = requestUser(req);
      const live = await o.stores.broadcasts.listLive({ limit: 100 });
      const visible = live.filter((b) => o.stores.broadcasts.canView(b, user?.id));
      res.json({ broadcasts: visible.map((b) => o.live.liveSummary(b.id) ?? toSummary(b, 0)) });
    }),
  );

  app.get(
    '/api/broadcasts/:id',
    route(async (req, res) => {
      const parsed = BroadcastIdSchema.safeParse(req.params.id);
      const record = parsed.success ? await o.stores.broadcasts.get(parsed.data) : undefined;
      // Private broadcasts the caller may not see are indistinguishable from missing ones.
      if (!record || !o.stores.broadcasts.canView(record, requestUser(req)?.id)) {
        throw new AppError('NOT_FOUND', 'broadcast not found');
      }
      res.json({ broadcast: o.live.liveSummary(record.id) ?? toSummary(record, 0) });
    }),
  );

  if (o.sunset) app.use(sunsetRouter({ stores: o.stores, sunset: o.sunset.service, logger: o.logger }));
  app.use('/api/replays', replaysRouter({ stores: o.stores, dataDir: o.dataDir }));
  if (o.archives) app.use('/api/archives', archivesRouter(o.archives));
  for (const router of o.adminRouters ?? []) app.use(router);

  app.use('/api', (req) => {
    throw new AppError('NOT_FOUND', `no route ${req.method} ${req.path}`);
  });

  // The web client: static assets, and index.html for every other page path (SPA routes).
  const index = path.join(o.webRoot, 'index.html');
  if (existsSync(index)) {
    app.use(express.static(o.webRoot, { index: false, maxAge: '1h' }));
    app.get('/{*path}', (_req, res) => res.sendFile(index, { maxAge: 0 }));
  } else {
    o.logger.warn({ webRoot: o.webRoot }, 'web client not built; pages are not served (run npm run build:web)');
  }

  // The one error middleware: AppError → its status; body-parser errors → 400/413; else 500.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let wire = toWireError(err);
    let status = err instanceof AppError ? err.status : 500;
    const e = err as { type?: string; status?: number };
    if (e?.type === 'entity.too.large') {
      wire = { code: 'PAYLOAD_TOO_LARGE', message: 'request body too large' };
      status = 413;
    } else if (e?.type === 'entity.parse.failed') {
      wire = { code: 'BAD_REQUEST', message: 'request body is not valid JSON' };
      status = 400;
    } else if (wire.code === 'VALIDATION_FAILED') {
      status = 400;
    } else if (wire.code === 'INTERNAL') {
      o.logger.error({ err, method: req.method, path: req.path }, 'request failed');
    }
    res.status(status).json({ error: wire });
  });
  return app;
}
