import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { ZodError } from 'zod';
import { AppError, toWireError } from '../../common/errors.ts';
import { ERROR_CODES, type WireError } from '../../common/protocol/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { LiveService } from '../live/LiveService.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';
import { userFrom } from './auth.ts';
import { authRouter, type AuthRouterOptions } from './authRouter.ts';
import type { ArchiveService } from '../archive/ArchiveService.ts';
import { archivesRouter } from './archives.ts';
import { broadcastsRouter } from './broadcastsRouter.ts';
import { blocksRouter } from './blocksRouter.ts';
import type { Blocking } from '../moderation/Blocking.ts';
import { replaysRouter } from './replays.ts';
import { StoredFileResponder } from './StoredFileResponder.ts';
import type { SunsetService } from '../sunset/SunsetService.ts';
import { FAREWELL_STYLE_HASH, sunsetGate, sunsetRouter } from './sunset.ts';
import { securityHeaders } from './securityHeaders.ts';
import { ADMIN_QUEUES_PATH } from './adminQueues.ts';
import { originGuard } from './originCheck.ts';
import { whipRouter } from '../ingest/whip/whipRouter.ts';
import type { WhipSessions } from '../ingest/whip/WhipSessions.ts';
import type { Storage } from '../../common/storage/Storage.ts';
import type { ReplayRemoval } from '../replays/ReplayRemoval.ts';
import type { Profiles } from '../profiles/Profiles.ts';
import { profilesRouter } from './profilesRouter.ts';
import { notificationsRouter } from './notificationsRouter.ts';
import type { Moderation } from '../moderation/Moderation.ts';
import { reportsRouter } from './reportsRouter.ts';
import type { IngestBroadcasts, StreamKeyAuthority } from '../ingest/ports.ts';
import { streamKeysRouter } from './streamKeysRouter.ts';
import type { WhepService } from '../ingest/whep/WhepService.ts';
import { whepRouter } from '../ingest/whep/whepRouter.ts';

export interface AppOptions {
  stores: Stores;
  live: LiveService;
  logger: Logger;
  /** Directory of the built web client (index.html + assets); pages are not served when absent. */
  webRoot: string;
  /** Served over HTTPS, directly or behind a proxy: cookies are Secure, HSTS is sent. */
  secureCookies: boolean;
  /** Several nodes: pages may open socket.io on the other nodes' ports of the same host name (securityHeaders.ts). */
  nodePorts?: boolean;
  /** Reverse proxies in front whose X-Forwarded-* headers are believed (config `http.trustProxy`). */
  proxyHops: number;
  /** Readiness: resolves when the database and media workers answer. */
  ready: () => Promise<void>;
  /** The files under the data directory: replay files and archives are served from it (`replays/<broadcastId>/…`, `archives/<id>/…`). */
  storage: Storage;
  /** Deletes replays (database, then files). */
  replayRemoval: ReplayRemoval;
  /** Profiles, following and avatars (signaling/profiles/Profiles.ts). */
  profiles: Profiles;
  /** Block lists (`/api/blocks`), and the one check of whether a broadcaster blocked the caller. */
  blocking: Blocking;
  /** Reports, the admins' queue and suspension (docs/moderation.md). */
  moderation: Moderation;
  /** "Download your data"; absent when background jobs are disabled. */
  archives?: ArchiveService | undefined;
  /** Routers for admins (e.g. the job dashboard), mounted before the web client's catch-all. */
  adminRouters?: Router[];
  /** Whether a page of this origin may send state-changing requests (originCheck.ts). */
  isAllowedOrigin: (origin: string) => boolean;
  /** Sunset mode (docs/sunset.md): its gate runs before everything, its API beside the others. */
  sunset?: { service: SunsetService };
  /** Going live from encoders with stream keys (docs/ingest.md); `/api/stream-keys` manages the keys. */
  ingest?: { broadcasts: IngestBroadcasts; keys: StreamKeyAuthority; rtmpPort?: number | null };
  /** WHIP ingest sessions (`/whip`, signaling/ingest/whip/); absent: no WHIP endpoint. */
  whip?: WhipSessions | undefined;
  /** The auth routes' own dependencies (signaling/http/authRouter.ts). */
  auth: Omit<AuthRouterOptions, 'stores' | 'logger' | 'secureCookies'>;
  /** WHEP playback at `/whep` (docs/ingest.md, "WHEP"); absent: not served. */
  whep?: WhepService | undefined;
}

type Async = (req: Request, res: Response) => Promise<unknown>;
/** Express 5 forwards rejected promises to the error middleware; this only types the handlers. */
const route = (fn: Async) => (req: Request, res: Response) => fn(req, res);

/**
 * A client's mistake reported by express, its router or body-parser (an http-errors error with
 * a 4xx status: malformed percent-encoding in a path, a body that is not JSON, in an unknown
 * charset or content encoding, or too large) as a catalogued error; undefined for anything else.
 */
function clientError(err: unknown): WireError | undefined {
  const e = err as { type?: unknown; status?: unknown; expose?: unknown } | null;
  if (typeof e !== 'object' || e === null || typeof e.status !== 'number' || e.status < 400 || e.status > 499) return undefined;
  switch (e.type) {
    case 'entity.too.large':
      return { code: 'PAYLOAD_TOO_LARGE', message: 'request body too large' };
    case 'entity.parse.failed':
      return { code: 'BAD_REQUEST', message: 'request body is not valid JSON' };
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return { code: 'UNSUPPORTED_MEDIA_TYPE', message: `request body: ${String((err as { message?: unknown }).message).slice(0, 100)}` };
  }
  if (e.status === 413) return { code: 'PAYLOAD_TOO_LARGE', message: 'request too large' };
  if (e.status === 404) return { code: 'NOT_FOUND', message: 'not found' };
  return { code: 'BAD_REQUEST', message: e.expose === true ? `bad request: ${String((err as { message?: unknown }).message).slice(0, 100)}` : 'bad request' };
}

/** Builds the express app: JSON API under /api, health probes, and the web client. */
export function createApp(o: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders({ secure: o.secureCookies, nodePorts: o.nodePorts ?? false, styleHashes: [FAREWELL_STYLE_HASH], inlineStylePaths: [ADMIN_QUEUES_PATH] }));
  // WHEP (docs/ingest.md): players on any origin, authorised by a bearer token and never a
  // cookie, so before the Origin check (docs/security.md); the sunset gate still applies.
  if (o.whep) {
    app.use('/whep', ...(o.sunset ? [sunsetGate(o.sunset.service)] : []), whepRouter({ whep: o.whep, stores: o.stores, proxyHops: o.proxyHops, logger: o.logger }));
  }
  // Before anything acts on a request: pages of other origins may not act as the user.
  // WHIP before the Origin check: encoders and WHIP pages of other origins call it with the
  // stream key as bearer token, never a cookie, so there is no ambient authority to protect
  // (docs/security.md, "WHIP ingest").
  if (o.whip) app.use(whipRouter({ sessions: o.whip }));
  app.use(originGuard(o.isAllowedOrigin));
  if (o.sunset) app.use(sunsetGate(o.sunset.service));
  // A number of hops, never `true`: with `true` express believes the leftmost X-Forwarded-For
  // entry, which the client writes itself when its proxy appends to the header.
  if (o.proxyHops > 0) app.set('trust proxy', o.proxyHops);
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

  app.use('/api/broadcasts', broadcastsRouter({ stores: o.stores, live: o.live, blocking: o.blocking }));

  app.use(reportsRouter({ moderation: o.moderation, stores: o.stores }));

  if (o.sunset) app.use(sunsetRouter({ stores: o.stores, sunset: o.sunset.service, logger: o.logger }));
  // Replay files and archives are streamed from the storage, byte ranges included.
  const files = new StoredFileResponder(o.storage);
  app.use('/api/replays', replaysRouter({ stores: o.stores, files, removal: o.replayRemoval, blocking: o.blocking }));
  app.use(profilesRouter({ profiles: o.profiles, stores: o.stores, files }));
  app.use('/api/notifications', notificationsRouter({ stores: o.stores }));
  if (o.archives) app.use('/api/archives', archivesRouter(o.archives, files));
  app.use('/api/blocks', blocksRouter(o.blocking));
  app.use('/api/stream-keys', streamKeysRouter({ stores: o.stores, live: o.live, rtmpPort: o.ingest?.rtmpPort ?? null }));
  for (const router of o.adminRouters ?? []) app.use(router);

  const noRoute = (req: Request) => {
    throw new AppError('NOT_FOUND', `no route ${req.method} ${req.path.slice(0, 200)}`);
  };
  app.use('/api', noRoute);

  // The web client: static assets, and index.html for every other page path (SPA routes).
  const index = path.join(o.webRoot, 'index.html');
  if (existsSync(index)) {
    app.use(express.static(o.webRoot, { index: false, maxAge: '1h' }));
    app.get('/{*path}', (_req, res) => res.sendFile(index, { maxAge: 0 }));
  } else {
    o.logger.warn({ webRoot: o.webRoot }, 'web client not built; pages are not served (run npm run build:web)');
  }
  // Whatever no route took (other methods, paths like //api//x): the JSON 404, not express's HTML page.
  app.use(noRoute);

  // The one error middleware: AppError → its status; the client errors of express, its router
  // and body-parser (http-errors with a 4xx status) → a catalogued code; else 500.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const wire = err instanceof AppError || err instanceof ZodError ? toWireError(err) : clientError(err) ?? toWireError(err);
    if (wire.code === 'INTERNAL') o.logger.error({ err, method: req.method, path: req.path }, 'request failed');
    else if (!(err instanceof AppError)) o.logger.debug({ err, method: req.method, path: req.path, code: wire.code }, 'bad request');
    res.status(ERROR_CODES[wire.code]).json({ error: wire });
  });
  return app;
}
