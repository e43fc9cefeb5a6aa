import { parse as parseCookie, serialize as serializeCookie } from 'cookie';
import type { Request } from 'express';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';

export const SESSION_COOKIE = 'spyglass_session';
/** Sessions last 30 days. */
export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

/** The session token of a request: the httpOnly cookie, or `Authorization: Bearer …` for API clients. */
export function tokenFrom(headers: { cookie?: string | undefined; authorization?: string | undefined }): string | undefined {
  const auth = headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim() || undefined;
  if (!headers.cookie) return undefined;
  return parseCookie(headers.cookie)[SESSION_COOKIE] || undefined;
}

/** Resolves the signed-in user of a request or socket handshake (undefined when anonymous). */
export async function userFrom(
  stores: Stores,
  headers: { cookie?: string | undefined; authorization?: string | undefined },
  explicitToken?: unknown,
): Promise<UserRecord | undefined> {
  const token = typeof explicitToken === 'string' && explicitToken ? explicitToken : tokenFrom(headers);
  return token ? stores.sessions.resolve(token) : undefined;
}

/**
 * The session cookie: httpOnly, and SameSite=Strict so that no request started by another
 * site (a link, a form, a frame) carries it; the web client's own requests do, and the pages
 * themselves need no cookie (archive download links are signed, not cookie-authenticated).
 */
export function sessionCookie(token: string, secure: boolean): string {
  return serializeCookie(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    secure,
    path: '/',
    maxAge: SESSION_TTL_MS / 1000,
  });
}

export function clearedSessionCookie(secure: boolean): string {
  return serializeCookie(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', secure, path: '/', maxAge: 0 });
}

export function requestUser(req: Request): UserRecord | undefined {
  return (req as Request & { user?: UserRecord | undefined }).user;
}
