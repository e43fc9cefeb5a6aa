import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { ZodError } from 'zod';
import { AppError, RedirectError, toWireError } from '../../../common/errors.ts';
import type { Logger } from '../../../common/logger.ts';
import { ERROR_CODES, type WireError } from '../../../common/protocol/errors.ts';
import { BroadcastIdSchema, type BroadcastId } from '../../../common/protocol/ids.ts';
import type { IceServer } from '../../../common/protocol/media.ts';
import { clientAddress } from '../../socket/ConnectionLimiter.ts';
import type { Stores } from '../../store/index.ts';
import { RateLimitedError } from '../../throttle/RateLimits.ts';
import type { WhepService, WhepStarted } from './WhepService.ts';

/** The largest offer or PATCH body read (a player's offer is 5–10 KiB). */
export const WHEP_BODY_LIMIT = '64kb';
/** Seconds a player is told to wait after a 503 (node full, no media yet). */
const RETRY_AFTER_SECONDS = 5;

export interface WhepRouterOptions {
  whep: WhepService;
  stores: Stores;
  /** Reverse proxies whose X-Forwarded-For is believed (config `http.trustProxy`). */
  proxyHops: number;
  logger: Logger;
}

const notFound = () => new AppError('NOT_FOUND', 'broadcast not found');

/** A path parameter ('' when absent). */
function param(req: Request, name: string): string {
  const value: unknown = req.params[name];
  return typeof value === 'string' ? value : '';
}

/** The broadcast id of the path; a malformed one is a missing one. */
function broadcastIdOf(req: Request): BroadcastId {
  const id = BroadcastIdSchema.safeParse(param(req, 'broadcastId'));
  if (!id.success) throw notFound();
  return id.data;
}

/**
 * CORS for players on any origin: no cookie is ever read here (the bearer token authorises),
 * so every origin may call, without credentials; the headers a player needs to read are exposed.
 */
function cors(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Expose-Headers': 'Location, ETag, Link, Accept-Patch, Retry-After',
    // WHEP answers are per session: never cached.
    'Cache-Control': 'no-store',
    // Players on other origins read these answers: cross-origin reads allowed.
    'Cross-Origin-Resource-Policy': 'cross-origin',
  });
  next();
}

/** A TURN server as WHIP/WHEP's Link header (RFC 9725 §4.6). */
function iceServerLink(server: IceServer): string[] {
  const quote = (s: string) => `"${s.replace(/["\\]/g, '')}"`;
  return server.urls.map((url) => `<${url}>; rel="ice-server"; username=${quote(server.username)}; credential=${quote(server.credential)}; credential-type="password"`);
}

/**
 * WHEP playback (draft-ietf-wish-whep; docs/ingest.md, "WHEP"), mounted at `/whep` before the
 * Origin check, which it does not need: it reads no cookie, only `Authorization: Bearer
 * <session token>`, so a page of another origin can act only with a token it holds.
 *
 * - `POST /whep/<broadcast id>` (`application/sdp`, a recvonly offer) → 201, the answer,
 *   `Location: /whep/<broadcast id>/<session id>`, `ETag`, `Accept-Patch`.
 * - `PATCH /whep/<broadcast id>/<session id>` (`application/trickle-ice-sdpfrag`) → 204
 *   (trickle), or 200 with the answer fragment (ICE restart; `If-Match` required, 428 without).
 * - `DELETE /whep/<broadcast id>/<session id>` → 200: the viewer leaves.
 * - `OPTIONS` on both: the CORS preflight.
 */
export function whepRouter(o: WhepRouterOptions): Router {
  const router = Router();
  router.use(cors);
  const text = express.text({ type: () => true, limit: WHEP_BODY_LIMIT });

  router.options(['/:broadcastId', '/:broadcastId/:sessionId'], (req, res) => {
    res
      .set({
        'Access-Control-Allow-Methods': req.params.sessionId === undefined ? 'POST, OPTIONS' : 'PATCH, DELETE, OPTIONS',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match',
        'Access-Control-Max-Age': '600',
        ...(req.params.sessionId === undefined ? { 'Accept-Post': 'application/sdp' } : { 'Accept-Patch': 'application/trickle-ice-sdpfrag' }),
      })
      .status(204)
      .end();
  });

  router.post('/:broadcastId', requireType('application/sdp'), text, async (req, res) => {
    const broadcastId = broadcastIdOf(req);
    const token = bearer(req);
    const auth = token ? await o.stores.sessions.resolveSession(token) : undefined;
    const redirected = req.query.redirected === '1';
    let started: WhepStarted;
    try {
      started = await o.whep.open(broadcastId, bodyText(req), { user: auth?.user, authSessionId: auth?.sessionId, address: clientAddress(req, o.proxyHops) }, redirected);
    } catch (err) {
      if (!(err instanceof RedirectError)) throw err;
      // A loaded node of several (docs/scale.md): the same POST on the node it names.
      res.status(307).set('Location', `${err.redirect.url}/whep/${broadcastId}?redirected=1`).json({ error: err.toWire() });
      return;
    }
    const links = started.iceServers.flatMap(iceServerLink);
    res
      .status(201)
      .set({
        'Content-Type': 'application/sdp',
        Location: `/whep/${broadcastId}/${started.session.id}`,
        ETag: started.session.etag,
        'Accept-Patch': 'application/trickle-ice-sdpfrag',
        ...(links.length > 0 ? { Link: links.join(', ') } : {}),
      })
      .send(started.answer);
  });

  router.patch('/:broadcastId/:sessionId', requireType('application/trickle-ice-sdpfrag'), text, async (req, res) => {
    const session = o.whep.get(broadcastIdOf(req), param(req, 'sessionId'));
    const ifMatch = req.get('if-match');
    if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== session.etag) {
      throw new Precondition(412, 'If-Match does not match the session’s ETag (its ICE was restarted since)');
    }
    const body = bodyText(req);
    if (/^a=ice-ufrag:/m.test(body) && ifMatch === undefined) throw new Precondition(428, 'an ICE restart needs If-Match (the session’s ETag, or *)');
    const fragment = await o.whep.patch(session, body);
    if (fragment === undefined) {
      res.status(204).end();
      return;
    }
    res.status(200).set({ 'Content-Type': 'application/trickle-ice-sdpfrag', ETag: session.etag }).send(fragment);
  });

  router.delete('/:broadcastId/:sessionId', (req, res) => {
    o.whep.get(broadcastIdOf(req), param(req, 'sessionId')).close('deleted');
    res.status(200).end();
  });

  // Anything else under /whep: the same 404 as a missing broadcast.
  router.use(() => {
    throw notFound();
  });

  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const wire = toWire(err);
    const status = err instanceof Precondition ? err.httpStatus : ERROR_CODES[wire.code];
    if (wire.code === 'INTERNAL' || wire.code === 'MEDIA_ERROR') o.logger.error({ err, method: req.method, path: req.path }, 'WHEP request failed');
    if (err instanceof RateLimitedError) res.set('Retry-After', String(err.retryAfterSeconds));
    if (status === 503) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    res.status(status).json({ error: wire });
  });
  return router;
}

/** A PATCH whose If-Match is stale (412) or missing for an ICE restart (428), RFC 9725 §4.3. */
class Precondition extends AppError {
  readonly httpStatus: 412 | 428;
  constructor(httpStatus: 412 | 428, message: string) {
    super('WRONG_STATE', message);
    this.httpStatus = httpStatus;
  }
}

/** 415 unless the body is of `type` (checked before the body is read). */
function requireType(type: string) {
  return (req: Request, _res: Response, next: NextFunction) => {
    next(req.is(type) ? undefined : new AppError('UNSUPPORTED_MEDIA_TYPE', `Content-Type must be ${type}`));
  };
}

/** The bearer token of the request: never the cookie (docs/security.md: WHEP is cross-origin). */
function bearer(req: Request): string | undefined {
  const auth = req.get('authorization');
  if (!auth?.startsWith('Bearer ')) return undefined;
  return auth.slice(7).trim() || undefined;
}

function bodyText(req: Request): string {
  return typeof req.body === 'string' ? req.body : '';
}

/** An error as its wire shape; body-parser's (too large, bad charset) as catalogued codes. */
function toWire(err: unknown): WireError {
  if (err instanceof AppError || err instanceof ZodError) return toWireError(err);
  const e = err as { type?: unknown; status?: unknown } | null;
  if (e?.type === 'entity.too.large' || e?.status === 413) return { code: 'PAYLOAD_TOO_LARGE', message: `the body is larger than ${WHEP_BODY_LIMIT}` };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return { code: 'BAD_REQUEST', message: 'unreadable body' };
  return toWireError(err);
}
