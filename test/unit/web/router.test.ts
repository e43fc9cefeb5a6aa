import { describe, expect, it } from 'vitest';
import { matchRoute, profilePath, replayPath, safeNext, shouldIntercept, watchPath } from '../../../web/src/router.ts';

const click = { button: 0, metaKey: false, ctrlKey: false, shiftKey: false, altKey: false };
const self = { target: '', download: false };
const origin = 'http://127.0.0.1:8080';

describe('matchRoute', () => {
  it('matches the static pages, with or without a trailing slash', () => {
    expect(matchRoute('/')).toEqual({ name: 'home' });
    expect(matchRoute('')).toEqual({ name: 'home' });
    expect(matchRoute('/signup')).toEqual({ name: 'signup' });
    expect(matchRoute('/signin/')).toEqual({ name: 'signin' });
    expect(matchRoute('/live')).toEqual({ name: 'live' });
  });

  it('matches /watch/:id only for well-formed broadcast ids', () => {
    expect(matchRoute('/watch/b_abcdEFGH1234')).toEqual({ name: 'watch', id: 'b_abcdEFGH1234' });
    expect(matchRoute('/watch/b_abcdEFGH1234/')).toEqual({ name: 'watch', id: 'b_abcdEFGH1234' });
    expect(matchRoute('/watch/u_abcdEFGH1234').name).toBe('not-found');
    expect(matchRoute('/watch/b_short').name).toBe('not-found');
    expect(matchRoute('/watch/').name).toBe('not-found');
    expect(matchRoute('/watch/b_abcdEFGH1234/extra').name).toBe('not-found');
  });

  it('matches /replays and /replay/:id for well-formed broadcast ids', () => {
    expect(matchRoute('/replays')).toEqual({ name: 'replays' });
    expect(matchRoute('/replays/')).toEqual({ name: 'replays' });
    expect(matchRoute('/replay/b_abcdEFGH1234')).toEqual({ name: 'replay', id: 'b_abcdEFGH1234' });
    expect(matchRoute('/replay/b_abcdEFGH1234/')).toEqual({ name: 'replay', id: 'b_abcdEFGH1234' });
    expect(matchRoute('/replay/u_abcdEFGH1234').name).toBe('not-found');
    expect(matchRoute('/replay/').name).toBe('not-found');
    expect(matchRoute('/replays/b_abcdEFGH1234').name).toBe('not-found');
    expect(matchRoute(replayPath(ensureId('b_0123456789')))).toEqual({ name: 'replay', id: 'b_0123456789' });
  });

  it('reports unknown paths as not-found with the path', () => {
    expect(matchRoute('/nope')).toEqual({ name: 'not-found', path: '/nope' });
  });

  it('round-trips watchPath', () => {
    expect(matchRoute(watchPath(ensureId('b_0123456789')))).toEqual({ name: 'watch', id: 'b_0123456789' });
  });
});

function ensureId(s: string): Parameters<typeof watchPath>[0] {
  const route = matchRoute(`/watch/${s}`);
  if (route.name !== 'watch') throw new Error('bad id');
  return route.id;
}

describe('shouldIntercept', () => {
  it('routes plain same-origin clicks', () => {
    expect(shouldIntercept('/live', origin, '/', click, self)).toBe('/live');
    expect(shouldIntercept(`${origin}/watch/b_0123456789?x=1`, origin, '/', click, self)).toBe('/watch/b_0123456789?x=1');
  });

  it('leaves modified clicks, new tabs, downloads and other origins to the browser', () => {
    expect(shouldIntercept('/live', origin, '/', { ...click, ctrlKey: true }, self)).toBeNull();
    expect(shouldIntercept('/live', origin, '/', { ...click, button: 1 }, self)).toBeNull();
    expect(shouldIntercept('/live', origin, '/', click, { target: '_blank', download: false })).toBeNull();
    expect(shouldIntercept('/live', origin, '/', click, { target: '', download: true })).toBeNull();
    expect(shouldIntercept('https://example.org/live', origin, '/', click, self)).toBeNull();
  });

  it('leaves API paths and same-page hash jumps alone', () => {
    expect(shouldIntercept('/api/auth/me', origin, '/', click, self)).toBeNull();
    expect(shouldIntercept('/socket.io/?EIO=4', origin, '/', click, self)).toBeNull();
    expect(shouldIntercept('#main', origin, '/', click, self)).toBeNull();
  });
});

describe('safeNext', () => {
  it('accepts same-site paths only', () => {
    expect(safeNext('?next=%2Flive')).toBe('/live');
    expect(safeNext('')).toBe('/');
    expect(safeNext('?next=https://evil.example')).toBe('/');
    expect(safeNext('?next=//evil.example')).toBe('/');
  });
});

describe('profile routes', () => {
  it('matches /u/:username for valid usernames only, decoded; profilePath encodes', () => {
    expect(matchRoute('/u/alice')).toEqual({ name: 'profile', username: 'alice' });
    expect(matchRoute('/u/Al.ice_-9/')).toEqual({ name: 'profile', username: 'Al.ice_-9' });
    for (const bad of ['/u/', '/u/ab', '/u/a%20b', '/u/a%2Fb', '/u/%E0%A4%A', `/u/${'a'.repeat(33)}`, '/u/alice/x']) {
      expect(matchRoute(bad).name, bad).toBe('not-found');
    }
    expect(profilePath('alice.b')).toBe('/u/alice.b');
  });
});
