import { Router, type Request, type Response } from 'express';
import { AppError, parseOrThrow } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { SignInSchema, SignUpSchema, type AuthResponse } from '../../common/protocol/events.ts';
import { hashPassword, verifyPassword } from '../store/passwords.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';
import { clearedSessionCookie, requestUser, sessionCookie, SESSION_TTL_MS, tokenFrom } from './auth.ts';

/** What the auth routes need. */
export interface AuthRouterOptions {
  stores: Stores;
  logger: Logger;
  /** Mark the session cookie Secure (HTTPS, directly or behind a proxy). */
  secureCookies: boolean;
}

type Async = (req: Request, res: Response) => Promise<unknown>;
/** Express 5 forwards rejected promises to the error middleware; this only types the handlers. */
const route = (fn: Async) => (req: Request, res: Response) => fn(req, res);

/**
 * `POST /api/auth/signup`, `POST /api/auth/signin`, `POST /api/auth/signout` and
 * `GET /api/auth/me`. Mounted after the middleware that resolves the caller.
 */
export function authRouter(o: AuthRouterOptions): Router {
  const router = Router();
  /** A hash verified when a username does not exist, so sign-in timing does not reveal it. */
  let dummyHash: Promise<string> | undefined;

  const auth = (user: UserRecord, token: string): AuthResponse => ({ user: { id: user.id, username: user.username }, token });

  router.post(
    '/api/auth/signup',
    route(async (req, res) => {
      const body = parseOrThrow(SignUpSchema, req.body);
      const user = await o.stores.users.create(body.username, await hashPassword(body.password));
      const token = await o.stores.sessions.create(user.id, SESSION_TTL_MS);
      o.logger.info({ userId: user.id }, 'signed up');
      res.status(201).setHeader('Set-Cookie', sessionCookie(token, o.secureCookies)).json(auth(user, token));
    }),
  );

  router.post(
    '/api/auth/signin',
    route(async (req, res) => {
      const body = parseOrThrow(SignInSchema, req.body);
      const found = await o.stores.users.findByUsername(body.username);
      const ok = found
        ? await verifyPassword(body.password, found.passwordHash)
        : await verifyPassword(body.password, await (dummyHash ??= hashPassword('not-a-real-password')));
      if (!found || !ok) throw new AppError('INVALID_CREDENTIALS', 'wrong username or password');
      const token = await o.stores.sessions.create(found.id, SESSION_TTL_MS);
      res.setHeader('Set-Cookie', sessionCookie(token, o.secureCookies)).json(auth(found, token));
    }),
  );

  router.post(
    '/api/auth/signout',
    route(async (req, res) => {
      const token = tokenFrom({ cookie: req.headers.cookie, authorization: req.headers.authorization });
      if (token) await o.stores.sessions.revoke(token);
      res.status(204).setHeader('Set-Cookie', clearedSessionCookie(o.secureCookies)).end();
    }),
  );

  router.get('/api/auth/me', (req, res) => {
    const user = requestUser(req);
    if (!user) throw new AppError('UNAUTHENTICATED', 'not signed in');
    res.json({ user: { id: user.id, username: user.username } });
  });

  return router;
}
