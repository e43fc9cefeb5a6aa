import type { BroadcastId } from '../../common/protocol/ids.ts';
import { USERNAME_RULES } from '../../common/protocol/rules.ts';
import { isBroadcastId } from './guards.ts';

/** The pages of the single-page app. */
export type Route =
  | { name: 'home' }
  | { name: 'signup' }
  | { name: 'signin' }
  | { name: 'live' }
  | { name: 'watch'; id: BroadcastId }
  | { name: 'replays' }
  | { name: 'replay'; id: BroadcastId }
  | { name: 'account' }
  | { name: 'profile'; username: string }
  | { name: 'admin' }
  | { name: 'not-found'; path: string };

const STATIC_ROUTES: Readonly<Record<string, Route>> = {
  '/': { name: 'home' },
  '/signup': { name: 'signup' },
  '/signin': { name: 'signin' },
  '/live': { name: 'live' },
  '/replays': { name: 'replays' },
  '/admin': { name: 'admin' },
  '/account': { name: 'account' },
};

/** Maps a pathname to a route. A trailing slash is ignored; unknown paths are 'not-found'. */
export function matchRoute(pathname: string): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') || '/' : pathname || '/';
  const fixed = STATIC_ROUTES[path];
  if (fixed) return fixed;
  const watch = /^\/watch\/([^/]+)$/.exec(path);
  if (watch && isBroadcastId(watch[1])) return { name: 'watch', id: watch[1] };
  const replay = /^\/replay\/([^/]+)$/.exec(path);
  if (replay && isBroadcastId(replay[1])) return { name: 'replay', id: replay[1] };
  const profile = /^\/u\/([^/]+)$/.exec(path);
  const username = profile ? safeDecode(profile[1] ?? '') : undefined;
  if (username !== undefined && isUsername(username)) return { name: 'profile', username };
  return { name: 'not-found', path };
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** The rule of `UsernameSchema` (without zod): 3–32 letters, digits, `_`, `.` or `-`. */
function isUsername(s: string): boolean {
  return s.length >= USERNAME_RULES.min && s.length <= USERNAME_RULES.max && USERNAME_RULES.pattern.test(s);
}

/** The path of a user's profile page. */
export function profilePath(username: string): string {
  return `/u/${encodeURIComponent(username)}`;
}

/** The path of a broadcast's watch page. */
export function watchPath(id: BroadcastId): string {
  return `/watch/${encodeURIComponent(id)}`;
}

/** The path of a broadcast's replay page (a replay has its broadcast's id). */
export function replayPath(id: BroadcastId): string {
  return `/replay/${encodeURIComponent(id)}`;
}

/**
 * Whether a click on a link should be handled by the router instead of the browser:
 * same origin, plain left click without modifiers, no target or download, not a hash
 * jump on the same page, and not an API or socket.io path.
 */
export function shouldIntercept(
  href: string,
  origin: string,
  currentPath: string,
  click: { button: number; metaKey: boolean; ctrlKey: boolean; shiftKey: boolean; altKey: boolean },
  anchor: { target: string; download: boolean },
): string | null {
  if (click.button !== 0 || click.metaKey || click.ctrlKey || click.shiftKey || click.altKey) return null;
  if ((anchor.target !== '' && anchor.target !== '_self') || anchor.download) return null;
  let url: URL;
  try {
    url = new URL(href, origin);
  } catch {
    return null;
  }
  if (url.origin !== origin) return null;
  if (url.pathname === currentPath && url.hash !== '') return null;
  if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/socket.io')) return null;
  return url.pathname + url.search + url.hash;
}

/** A `next` query parameter that is safe to navigate to after sign-in (same-site path only). */
export function safeNext(search: string): string {
  const next = new URLSearchParams(search).get('next');
  if (next === null || !next.startsWith('/') || next.startsWith('//')) return '/';
  return next;
}
