import { Router, type NextFunction, type Request, type Response } from 'express';
import { AppError, parseOrThrow } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { ChangePasswordSchema, SignInSchema, SignUpSchema, type AuthResponse } from '../../common/protocol/events.ts';
import { hashPassword, type PasswordHasher } from '../store/passwords.ts';
import type { PasswordPolicy } from '../store/PasswordPolicy.ts';
import type { Stores } from '../store/index.ts';
import type { AuthLimits } from '../throttle/AuthLimits.ts';
import type { UserRecord } from '../store/UserStore.ts';
import type { UserId } from '../../common/protocol/ids.ts';
import { DeleteAccountSchema } from '../../common/protocol/events.ts';
import { clearedSessionCookie, requestUser, sessionCookie, SESSION_TTL_MS, tokenFrom } from './auth.ts';

/** What the auth routes need. */
export interface AuthRouterOptions {
  stores: Stores;
  logger: Logger;
  /** Mark the session cookie Secure (HTTPS, directly or behind a proxy). */
  secureCookies: boolean;
  /** Password hashing, bounded in concurrency (503 UNAVAILABLE when its queue is full). */
  hasher: PasswordHasher;
  /** Refuses common and trivial passwords at sign-up. */
  passwordPolicy: PasswordPolicy;
  /** Sign-in failures per username and per address, sign-ups per address (429 RATE_LIMITED). */
  limits: AuthLimits;
  /** Deletes an account and everything of it (signaling/account/AccountRemoval.ts). */
  removeAccount: (userId: UserId) => Promise<unknown>;
}

/** The client's address as express sees it: the socket's peer, or X-Forwarded-For's when `trust proxy` is set. */
function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

type Async = (req: Request, res: Response) => Promise<unknown>;
/** Express 5 forwards rejected promises to the error middleware; this only types the handlers. */
const route = (fn: Async) => (req: Request, res: Response) => fn(req, res);

/**
 * `POST /api/auth/signup`, `POST /api/auth/signin`, `POST /api/auth/signout`,
 * `POST /api/auth/signout-everywhere`, `POST /api/auth/password` and `GET /api/auth/me`. Mounted after the middleware that resolves the caller.
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
      // Counted before the costly parts (strength estimate, scrypt), so a flood pays for nothing.
      await o.limits.signUp(clientAddress(req));
      o.passwordPolicy.assertAcceptable(body.password, body.username);
      const user = await o.stores.users.create(body.username, await o.hasher.hash(body.password));
      const token = await o.stores.sessions.create(user.id, SESSION_TTL_MS);
      o.logger.info({ userId: user.id }, 'signed up');
      res.status(201).setHeader('Set-Cookie', sessionCookie(token, o.secureCookies)).json(auth(user, token));
    }),
  );

  router.post(
    '/api/auth/signin',
    route(async (req, res) => {
      const body = parseOrThrow(SignInSchema, req.body);
      const address = clientAddress(req);
      // Blocked names are refused before any lookup, the same whether an account exists or not.
      await o.limits.beforeSignIn(body.username, address);
      const found = await o.stores.users.findByUsername(body.username);
      // Unknown names verify against a dummy hash (computed once, outside the bound) so that
      // timing does not tell them apart; both go through the bounded hasher.
      const ok = found
        ? await o.hasher.verify(body.password, found.passwordHash)
        : await o.hasher.verify(body.password, await (dummyHash ??= hashPassword('not-a-real-password')));
      if (!found || !ok) {
        await o.limits.signInFailed(body.username, address);
        throw new AppError('INVALID_CREDENTIALS', 'wrong username or password');
      }
      await o.limits.signInSucceeded(body.username);
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

  // Every session of the user ends, this one included, and their sockets close (server.ts).
  router.post(
    '/api/auth/signout-everywhere',
    route(async (req, res) => {
      const user = requestUser(req);
      if (!user) throw new AppError('UNAUTHENTICATED', 'not signed in');
      const ended = await o.stores.sessions.revokeAllForUser(user.id);
      o.logger.info({ userId: user.id, sessions: ended }, 'signed out everywhere');
      res.status(204).setHeader('Set-Cookie', clearedSessionCookie(o.secureCookies)).end();
    }),
  );

  // The current password is checked like a sign-in (same limits: a stolen session cannot guess
  // it faster); every other session of the user ends, and their sockets close.
  router.post(
    '/api/auth/password',
    route(async (req, res) => {
      const token = tokenFrom({ cookie: req.headers.cookie, authorization: req.headers.authorization });
      const session = token ? await o.stores.sessions.resolveSession(token) : undefined;
      if (!session) throw new AppError('UNAUTHENTICATED', 'sign in to change your password');
      const body = parseOrThrow(ChangePasswordSchema, req.body);
      const address = clientAddress(req);
      const { username } = session.user;
      await o.limits.beforeSignIn(username, address);
      const found = await o.stores.users.findByUsername(username);
      if (!found || !(await o.hasher.verify(body.currentPassword, found.passwordHash))) {
        await o.limits.signInFailed(username, address);
        throw new AppError('INVALID_CREDENTIALS', 'the current password is wrong');
      }
      await o.limits.signInSucceeded(username);
      o.passwordPolicy.assertAcceptable(body.newPassword, username);
      await o.stores.users.setPasswordHash(found.id, await o.hasher.hash(body.newPassword));
      const ended = await o.stores.sessions.revokeOthersOfUser(found.id, session.sessionId);
      o.logger.info({ userId: found.id, otherSessionsEnded: ended }, 'password changed');
      res.status(204).end();
    }),
  );

  // Deleting the account: the password again (under the sign-in limits), then everything goes.
  router.delete(
    '/api/account',
    route(async (req, res) => {
      const user = requestUser(req);
      if (!user) throw new AppError('UNAUTHENTICATED', 'sign in to delete your account');
      const body = parseOrThrow(DeleteAccountSchema, req.body);
      const address = clientAddress(req);
      await o.limits.beforeSignIn(user.username, address);
      const found = await o.stores.users.findByUsername(user.username);
      if (!found || !(await o.hasher.verify(body.password, found.passwordHash))) {
        await o.limits.signInFailed(user.username, address);
        throw new AppError('INVALID_CREDENTIALS', 'the password is wrong');
      }
      await o.removeAccount(found.id);
      res.status(204).setHeader('Set-Cookie', clearedSessionCookie(o.secureCookies)).end();
    }),
  );

  // With the account's suspension (docs/moderation.md): the pages show the reason.
  router.get('/api/auth/me', async (req, res) => {
    const user = requestUser(req);
    if (!user) throw new AppError('UNAUTHENTICATED', 'not signed in');
    const suspension = (await o.stores.suspensions.get(user.id)) ?? null;
    res.json({ user: { id: user.id, username: user.username }, suspension });
  });

  // Refusals that say when to come back (429 RATE_LIMITED, 503 UNAVAILABLE when busy) carry
  // Retry-After; the app's error middleware writes the body.
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const retry = (err as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
    if (err instanceof AppError && typeof retry === 'number') res.setHeader('Retry-After', String(retry));
    next(err);
  });

  return router;
}
