import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../common/config.ts';
import { AppError } from '../../../common/errors.ts';
import { TurnCredentials } from '../../../signaling/live/TurnCredentials.ts';

const URLS = ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:443?transport=tcp'];
/** 2026-01-01T00:00:00Z. */
const NEW_YEAR_MS = 1_767_225_600_000;

describe('TurnCredentials', () => {
  it('computes base64(HMAC-SHA1(secret, username)), the TURN REST API credential', () => {
    // RFC 2202, HMAC-SHA1 test case 2: effcdf6ae5eb2fa2d27416d5f184df9c259a7c79, in base64.
    expect(TurnCredentials.credentialFor('Jefe', 'what do ya want for nothing?')).toBe('7/zfauXrL6LSdBbV8YTfnCWafHk=');
    // A TURN username, checked with `openssl dgst -sha1 -hmac north-sea-turn-secret -binary | base64`.
    expect(TurnCredentials.credentialFor('north-sea-turn-secret', '1767225600:c3BhcmtsaW5n')).toBe('lFASZcMt2lcPCOQlXgIqJCFN8TY=');
  });

  it('grants `<expiry>:<random id>` valid for the configured lifetime from now, with its credential', () => {
    let now = NEW_YEAR_MS - 3_600_000 + 400;
    const turn = new TurnCredentials({ urls: URLS, secret: 'north-sea-turn-secret', ttlSeconds: 3600, forceRelay: false, clock: () => now });
    const first = turn.grant();
    expect(first.iceTransportPolicy).toBeUndefined();
    expect(first.iceServers).toHaveLength(1);
    const [server] = first.iceServers!;
    expect(server!.urls).toEqual(URLS);
    expect(server!.username).toMatch(/^1767225600:[A-Za-z0-9_-]{16}$/);
    expect(server!.credential).toBe(TurnCredentials.credentialFor('north-sea-turn-secret', server!.username));

    // Every grant has an id of its own; the expiry follows the clock.
    const again = turn.grant().iceServers![0]!;
    expect(again.username.split(':')[1]).not.toBe(server!.username.split(':')[1]);
    now += 90_000;
    expect(turn.grant().iceServers![0]!.username).toMatch(/^1767225690:/);

    const short = new TurnCredentials({ urls: URLS, secret: 'north-sea-turn-secret', ttlSeconds: 60, forceRelay: false, clock: () => NEW_YEAR_MS });
    expect(short.grant().iceServers![0]!.username).toMatch(/^1767225660:/);
  });

  it('asks for relay only when forced', () => {
    const forced = new TurnCredentials({ urls: URLS, secret: 'north-sea-turn-secret', ttlSeconds: 60, forceRelay: true });
    expect(forced.grant().iceTransportPolicy).toBe('relay');
  });

  it('is built from the config only when TURN URLs are set', () => {
    expect(TurnCredentials.fromConfig(loadConfig({}).turn)).toBeUndefined();
    const config = loadConfig({ SPYGLASS_TURN_URLS: URLS.join(','), SPYGLASS_TURN_SECRET: 'north-sea-turn-secret', SPYGLASS_TURN_CREDENTIAL_TTL_SECONDS: '120' });
    const granted = TurnCredentials.fromConfig(config.turn)!.grant().iceServers![0]!;
    const expiry = Number(granted.username.split(':')[0]);
    expect(expiry - Date.now() / 1000).toBeGreaterThan(118);
    expect(expiry - Date.now() / 1000).toBeLessThanOrEqual(120);
  });

  it('refuses settings it cannot grant with, with a code', () => {
    const bad = [
      { urls: [], secret: 'north-sea-turn-secret', ttlSeconds: 60, forceRelay: false },
      { urls: URLS, secret: '', ttlSeconds: 60, forceRelay: false },
      { urls: URLS, secret: 'north-sea-turn-secret', ttlSeconds: 0, forceRelay: false },
    ];
    for (const o of bad) {
      expect(() => new TurnCredentials(o)).toThrow(AppError);
      try {
        new TurnCredentials(o);
      } catch (err) {
        expect((err as AppError).code).toBe('BAD_REQUEST');
      }
    }
  });
});
