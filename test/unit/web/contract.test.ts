import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BroadcastIdSchema, UserIdSchema, UsernameSchema } from '../../../common/protocol/ids.ts';
import { JoinRedirectSchema, SignUpSchema } from '../../../common/protocol/events.ts';
import { isBroadcastId, isBroadcastSummary, isErrorCode, isJoinRedirect, isUserId, isWireError } from '../../../web/src/guards.ts';
import { LIMITS, PASSWORD_RULES } from '../../../common/protocol/rules.ts';
import { isValidUsername } from '../../../web/src/format.ts';
import { chooseHandlerName } from '../../../web/src/handler.ts';

// The web client takes its rules from common/protocol/rules.ts (no zod); these tests check
// that its checks agree with the schemas the server applies.

describe('rules shared with the server', () => {
  it('the username and password checks agree with the schemas', () => {
    for (const name of ['ab', 'abc', 'a'.repeat(32), 'a'.repeat(33), 'al.ice-_9', 'bad name', 'émile']) {
      expect(isValidUsername(name), name).toBe(UsernameSchema.safeParse(name).success);
    }
    expect(SignUpSchema.safeParse({ username: 'alice', password: 'x'.repeat(PASSWORD_RULES.min) }).success).toBe(true);
    expect(SignUpSchema.safeParse({ username: 'alice', password: 'x'.repeat(PASSWORD_RULES.min - 1) }).success).toBe(false);
    expect(SignUpSchema.safeParse({ username: 'alice', password: 'x'.repeat(PASSWORD_RULES.max + 1) }).success).toBe(false);
    expect(LIMITS.chatMax).toBeGreaterThan(0);
  });

  it('the built web client does not carry zod', () => {
    const assets = path.join(import.meta.dirname, '..', '..', '..', 'web', 'dist', 'assets');
    const js = readdirSync(assets).filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    for (const f of js) expect(readFileSync(path.join(assets, f), 'utf8'), f).not.toMatch(/ZodError|\$ZodType/);
  });
});

describe('id guards agree with the id schemas', () => {
  const samples = ['b_0123456789', 'b_abc', 'b_' + 'x'.repeat(40), 'b_' + 'x'.repeat(41), 'u_0123456789', 'b_01234567!9', '', 'b_0123-_abcd'];
  it.each(samples)('%s', (s) => {
    expect(isBroadcastId(s)).toBe(BroadcastIdSchema.safeParse(s).success);
    expect(isUserId(s)).toBe(UserIdSchema.safeParse(s).success);
  });
});

describe('response guards', () => {
  const broadcast = {
    id: 'b_0123456789',
    title: 'hello',
    visibility: 'public',
    owner: { id: 'u_0123456789', username: 'alice' },
    status: 'live',
    startedAt: '2024-01-01T00:00:00.000Z',
    endedAt: null,
    viewerCount: 3,
    source: 'browser',
  };
  it('accept a broadcast summary and reject broken ones', () => {
    expect(isBroadcastSummary(broadcast)).toBe(true);
    expect(isBroadcastSummary({ ...broadcast, status: 'paused' })).toBe(false);
    expect(isBroadcastSummary({ ...broadcast, owner: null })).toBe(false);
    expect(isBroadcastSummary({ ...broadcast, viewerCount: '3' })).toBe(false);
    expect(isBroadcastSummary({ ...broadcast, source: 'rtmp' })).toBe(true);
    expect(isBroadcastSummary({ ...broadcast, source: 'carrier pigeon' })).toBe(false);
  });
  it('accept only catalogued error codes', () => {
    expect(isErrorCode('NOT_FOUND')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    expect(isWireError({ code: 'RATE_LIMITED', message: 'slow down' })).toBe(true);
    expect(isWireError({ code: 'WHATEVER', message: 'x' })).toBe(false);
  });
  it('follow only the redirects the server would send (JoinRedirectSchema)', () => {
    const urls = ['https://live.example.org:8441', 'http://127.0.0.1:9000/', 'https://live.example.org/node-a', 'javascript:alert(1)', 'ws://x.example', '', 'https://' + 'a'.repeat(2050)];
    for (const url of urls) {
      const redirect = { url };
      expect(isJoinRedirect(redirect), url.slice(0, 60)).toBe(JoinRedirectSchema.safeParse(redirect).success);
    }
    expect(isJoinRedirect({ url: 'https://live.example.org:8441' })).toBe(true);
    expect(isJoinRedirect({ href: 'https://live.example.org:8441' })).toBe(false);
    expect(isJoinRedirect('https://live.example.org:8441')).toBe(false);
  });
});

describe('chooseHandlerName', () => {
  const headless = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36';
  const chrome = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
  it('forces Chrome111 for headless Chromium and when detection fails', () => {
    expect(chooseHandlerName(headless, 'Chrome111')).toBe('Chrome111');
    expect(chooseHandlerName(headless, undefined)).toBe('Chrome111');
    expect(chooseHandlerName('SomeBrowser/1.0', undefined)).toBe('Chrome111');
  });
  it('keeps the library detection otherwise', () => {
    expect(chooseHandlerName(chrome, 'Chrome111')).toBeUndefined();
    expect(chooseHandlerName('Firefox/130', 'Firefox120')).toBeUndefined();
  });
});
