import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../common/config.ts';
import { scryptKdf, type Kdf } from '../../signaling/store/passwords.ts';
import { startTestServer, testQueuePrefix, type TestServer } from '../../testkit/server.ts';

const PASSWORD = 'correct horse battery';
const LIMITS = {
  signInFailuresPerAccount: 5,
  signInAccountBlockSeconds: 2,
  signInFailuresPerAddress: 8,
  signInAddressWindowSeconds: 3600,
  signUpsPerAddress: 3,
  signUpWindowSeconds: 3600,
  hashConcurrency: 2,
  hashQueue: 4,
};

interface Answer {
  status: number;
  retryAfter: string | null;
  code: string | undefined;
  message: string | undefined;
}

async function post(server: TestServer, p: string, body: unknown, from?: string): Promise<Answer> {
  const res = await fetch(`${server.url}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(from ? { 'x-forwarded-for': from } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { error?: { code: string; message: string } };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), code: json.error?.code, message: json.error?.message };
}

const signIn = (server: TestServer, username: string, password: string, from?: string) => post(server, '/api/auth/signin', { username, password }, from);
const signUpFrom = (server: TestServer, username: string, from?: string, password = PASSWORD) => post(server, '/api/auth/signup', { username, password }, from);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sign-in and sign-up are throttled (per username, per client address) with counters in Redis,
 * and password hashing is bounded. Two servers share one Redis prefix: A trusts a proxy's
 * X-Forwarded-For, B does not.
 */
describe('throttling of sign-in and sign-up', () => {
  let a: TestServer;
  let b: TestServer;
  let running = 0;
  let peak = 0;
  const countingKdf: Kdf = async (...args) => {
    running++;
    peak = Math.max(peak, running);
    try {
      return await scryptKdf(...args);
    } finally {
      running--;
    }
  };

  beforeAll(async () => {
    const queuePrefix = testQueuePrefix();
    const base: ConfigInput = { recording: { enabled: false }, queuePrefix, limits: LIMITS };
    a = await startTestServer({ ...base, http: { trustProxy: true } }, { kdf: countingKdf });
    b = await startTestServer({ ...base, http: { trustProxy: false } });
    for (const [i, name] of ['victim', 'victim2', 'flooded', 'shared'].entries()) {
      expect((await signUpFrom(a, name, `10.99.0.${i + 1}`)).status).toBe(201);
    }
  }, 60_000);
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('30 wrong passwords: 401 until the limit, then 429 with Retry-After; the right password is refused while blocked and accepted after', async () => {
    const answers: Answer[] = [];
    // From many addresses: the account's counter does not care where guesses come from.
    for (let i = 0; i < 30; i++) answers.push(await signIn(a, 'victim', `wrong guess ${i}`, `10.0.${i % 3}.1`));
    expect(answers.slice(0, 5).map((x) => x.status)).toEqual([401, 401, 401, 401, 401]);
    for (const later of answers.slice(5)) {
      expect(later.status).toBe(429);
      expect(later.code).toBe('RATE_LIMITED');
      expect(Number(later.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(later.message).toMatch(/too many failed sign-ins for this username; try again in \d+ s/);
    }
    const blocked = await signIn(a, 'victim', PASSWORD, '10.0.9.1');
    expect(blocked.status).toBe(429);
    await sleep(Number(blocked.retryAfter) * 1000 + 200);
    expect((await signIn(a, 'victim', PASSWORD, '10.0.9.1')).status).toBe(200);
    // A success clears the count: the next wrong password is a plain 401 again.
    expect((await signIn(a, 'victim', 'wrong again', '10.0.9.1')).status).toBe(401);
  }, 30_000);

  it('throttles an unknown username exactly like a known one', async () => {
    const shape = (x: Answer) => ({ status: x.status, code: x.code, message: x.message?.replace(/\d+ s$/, 'N s'), retry: x.retryAfter !== null });
    const known: unknown[] = [];
    const unknown: unknown[] = [];
    for (let i = 0; i < 8; i++) {
      known.push(shape(await signIn(a, 'victim2', `nope ${i}`, '10.3.0.1')));
      unknown.push(shape(await signIn(a, 'ghost', `nope ${i}`, '10.3.0.2')));
    }
    expect(unknown).toEqual(known);
    expect(known.map((k) => (k as { status: number }).status)).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
  }, 30_000);

  it('blocks an address after its failed sign-ins, whatever the usernames', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await signIn(a, `spray${i}`, 'password guess', '10.4.0.1')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 401, 401, 429, 429]);
    expect((await signIn(a, 'spray0', 'password guess', '10.4.0.2')).status).toBe(401);
  }, 30_000);

  it('limits sign-ups per address; the forwarded address counts when a proxy is trusted, and is ignored otherwise', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await signUpFrom(a, `newbie${i}`, '10.5.0.1')).status);
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    const refused = await signUpFrom(a, 'newbie9', '10.5.0.1');
    expect(refused).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(refused.message).toMatch(/too many sign-ups from your network address; try again in \d+ s/);
    expect(Number(refused.retryAfter)).toBeGreaterThan(60);
    // Another forwarded address is another client behind the trusted proxy.
    expect((await signUpFrom(a, 'other_net', '10.5.0.2')).status).toBe(201);

    // B does not trust X-Forwarded-For: rotating it does not help.
    const rotated: number[] = [];
    for (let i = 0; i < 5; i++) rotated.push((await signUpFrom(b, `rotator${i}`, `10.6.0.${i + 1}`)).status);
    expect(rotated).toEqual([201, 201, 201, 429, 429]);
  }, 30_000);

  it('counts failures for a username across two servers sharing Redis', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await signIn(a, 'shared', `bad ${i}`, '10.7.0.1')).status);
    for (let i = 0; i < 3; i++) statuses.push((await signIn(b, 'shared', `bad ${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect((await signIn(a, 'shared', PASSWORD, '10.7.0.2')).status).toBe(429);
  }, 30_000);

  it('bounds concurrent password hashing: a flood of 60 gets 503 beyond the queue, at most N scrypt run at once, and a real sign-in still works', async () => {
    peak = 0;
    const flood = await Promise.all(Array.from({ length: 60 }, (_, i) => signIn(a, `flood${i}`, 'not the password', `10.8.${i}.1`)));
    const counts = new Map<number, number>();
    for (const x of flood) counts.set(x.status, (counts.get(x.status) ?? 0) + 1);
    expect([...counts.keys()].every((s) => s === 401 || s === 503 || s === 429), JSON.stringify([...counts])).toBe(true);
    expect(counts.get(503) ?? 0).toBeGreaterThan(0);
    const busy = flood.find((x) => x.status === 503)!;
    expect(busy).toMatchObject({ code: 'UNAVAILABLE', retryAfter: '1' });
    expect(busy.message).toMatch(/busy/);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(LIMITS.hashConcurrency);
    expect((await signIn(a, 'flooded', PASSWORD, '10.8.200.1')).status).toBe(200);
    expect(peak).toBeLessThanOrEqual(LIMITS.hashConcurrency);
  }, 60_000);

  it('refuses common and trivial passwords at sign-up with the reason', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['weak1', 'password', /too weak: this is one of the ten most used passwords/],
      ['weak2', '12345678', /too weak: this is one of the ten most used passwords/],
      ['weak3', '        ', /only spaces/],
      ['weak4', 'qwertyuiop', /too weak/],
      ['OpsAdmin', 'opsadmin2024', /mostly your username/],
    ];
    for (const [i, [username, password, reason]] of cases.entries()) {
      const res = await signUpFrom(a, username, `10.10.0.${i + 1}`, password);
      expect(res.status, password).toBe(400);
      expect(res.code).toBe('VALIDATION_FAILED');
      expect(res.message).toMatch(reason);
      expect(await a.stores.users.findByUsername(username)).toBeUndefined();
    }
  }, 30_000);
});
