import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { AppError } from '../../../common/errors.ts';
import { MAX_SDP_BYTES } from './whipSdp.ts';
import type { WhipSessions } from './WhipSessions.ts';

/** Where encoders POST their offers (OBS: Service "WHIP", Server `<origin>/whip`). */
export const WHIP_PATH = '/whip';

const SDP = 'application/sdp';
const SDP_FRAGMENT = 'application/trickle-ice-sdpfrag';

/**
 * CORS for WHIP (RFC 9725 §4.8 leaves it to the endpoint): WHIP clients in web pages are of
 * other origins. Any origin may call, without credentials — the stream key in `Authorization`
 * is the only authority (no cookie is read here), so the Origin check of the rest of the API
 * has nothing to protect (docs/security.md, "WHIP ingest").
 */
const cors: RequestHandler = (_req, res, next) => {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Expose-Headers', 'Location, ETag, Accept-Post, Accept-Patch, Retry-After');
  next();
};

function preflight(methods: string, accept: [string, string]): RequestHandler {
  return (_req, res) => {
    res.setHeader('Access-Control-Allow-Methods', methods);
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, If-Match');
    res.setHeader('Access-Control-Max-Age', '86400');
    res.setHeader(accept[0], accept[1]);
    res.status(204).end();
  };
}

/** The stream key of `Authorization: Bearer <key>`. @throws AppError UNAUTHENTICATED without one. */
function bearer(req: Request, res: Response): string {
  const match = /^Bearer +([!-~]{1,256})$/i.exec(req.headers.authorization ?? '');
  if (!match?.[1]) {
    res.setHeader('WWW-Authenticate', 'Bearer');
    throw new AppError('UNAUTHENTICATED', 'a WHIP request needs the stream key as "Authorization: Bearer <stream key>"');
  }
  return match[1];
}

/** Refuses a body of another type (415) before it is read. */
function contentType(type: string): RequestHandler {
  return (req, _res, next) => {
    if (req.is(type)) {
      next();
      return;
    }
    next(new AppError('UNSUPPORTED_MEDIA_TYPE', `the body must be ${type} (Content-Type: ${(req.headers['content-type'] ?? 'none').slice(0, 100)})`));
  };
}

/** Checks the bearer before anything else is looked at (401 first, whatever else is wrong). */
const authorised: RequestHandler = (req, res, next) => {
  try {
    bearer(req, res);
    next();
  } catch (err) {
    next(err);
  }
};

const readBody = (type: string) => express.text({ type, limit: MAX_SDP_BYTES, defaultCharset: 'utf-8' });

function sessionId(req: Request): string {
  return String(req.params.id ?? '');
}

/**
 * WHIP (RFC 9725; docs/ingest.md, "WHIP"): `POST /whip` with `Authorization: Bearer <stream
 * key>` and an SDP offer → 201 with the answer, `Location: /whip/<session>` and an `ETag`;
 * `PATCH /whip/<session>` (trickle ICE: 204; ICE restart: 200 with the new credentials);
 * `DELETE /whip/<session>` ends the broadcast (200). A session answers only to the key that
 * opened it: another key gets the 404 of a session that does not exist. Errors are the API's
 * `{ error: { code, message } }` with their status (the app's error middleware writes them);
 * refusals that say when to come back carry `Retry-After`.
 */
export function whipRouter(o: { sessions: WhipSessions }): Router {
  const router = Router();
  router.use([WHIP_PATH, `${WHIP_PATH}/:id`], cors);
  router.options(WHIP_PATH, preflight('POST, OPTIONS', ['Accept-Post', SDP]));
  router.options(`${WHIP_PATH}/:id`, preflight('PATCH, DELETE, OPTIONS', ['Accept-Patch', SDP_FRAGMENT]));

  router.post(WHIP_PATH, authorised, contentType(SDP), readBody(SDP), async (req: Request, res: Response) => {
    const secret = bearer(req, res);
    const offer = typeof req.body === 'string' ? req.body : '';
    const opened = await o.sessions.open(secret, req.ip ?? req.socket.remoteAddress ?? 'unknown', offer);
    res
      .status(201)
      .setHeader('Location', `${WHIP_PATH}/${opened.id}`)
      .setHeader('ETag', opened.etag)
      .setHeader('Content-Type', SDP)
      .setHeader('Cache-Control', 'no-store')
      .send(opened.answer);
  });

  router.patch(`${WHIP_PATH}/:id`, authorised, contentType(SDP_FRAGMENT), readBody(SDP_FRAGMENT), async (req: Request, res: Response) => {
    const secret = bearer(req, res);
    const restarted = await o.sessions.patch(sessionId(req), secret, req.headers['if-match'], typeof req.body === 'string' ? req.body : '');
    if (!restarted) {
      res.status(204).end();
      return;
    }
    res.status(200).setHeader('ETag', restarted.etag).setHeader('Content-Type', SDP_FRAGMENT).setHeader('Cache-Control', 'no-store').send(restarted.fragment);
  });

  router.delete(`${WHIP_PATH}/:id`, authorised, async (req: Request, res: Response) => {
    await o.sessions.delete(sessionId(req), bearer(req, res));
    res.status(200).end();
  });

  // Refusals that say when to come back (429 RATE_LIMITED) carry Retry-After; the app's error middleware writes the body.
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const retry = (err as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
    if (err instanceof AppError && typeof retry === 'number') res.setHeader('Retry-After', String(retry));
    next(err);
  });
  return router;
}
