import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../common/logger.ts';
import type { SunsetStatus } from '../../../common/protocol/sunset.ts';
import { openDatabase, type DatabaseHandle } from '../../../signaling/store/Database.ts';
import { createStores } from '../../../signaling/store/index.ts';
import { connect, grantAdmin, nextEvent, ok, request, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

const H = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The sunset lifecycle end to end on the real server, with a clock the test moves: the
 * schedule goes through the admin API, each phase is checked over HTTP and socket.io.
 */
describe('sunset mode (real server, controlled clock)', () => {
  let server: TestServer;
  let db: DatabaseHandle;
  let now = Date.now();
  const t0 = now;
  const sockets: ClientSocket[] = [];
  const users = {} as Record<'alice' | 'bob' | 'root' | 'carol', { token: string; id: string }>;
  const mp4 = Buffer.from('not really an mp4, but bytes to download');

  const dates = {
    announceAt: iso(t0 + H),
    readOnlyAt: iso(t0 + 2 * H),
    exportOnlyAt: iso(t0 + 3 * H),
    offAt: iso(t0 + 4 * H),
  };
  const message = 'Thank you for watching <3 — export your replays before the end.';

  const call = (method: string, p: string, who?: keyof typeof users, body?: unknown) =>
    fetch(`${server.url}${p}`, {
      method,
      headers: {
        ...(who ? { authorization: `Bearer ${users[who].token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });

  const status = async (): Promise<SunsetStatus> => (await (await call('GET', '/api/sunset')).json()) as SunsetStatus;

  async function socketOf(who: keyof typeof users): Promise<ClientSocket> {
    const s = await connect(server.url, users[who].token);
    sockets.push(s);
    return s;
  }

  async function trySignUp(username: string) {
    return call('POST', '/api/auth/signup', undefined, { username, password: 'correct horse battery' });
  }

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } }, { clock: () => now });
    db = await openDatabase({ sqlitePath: path.join(server.dataDir, 'spyglass.db'), logger: createLogger({ level: 'silent' }) });
    for (const name of ['alice', 'bob', 'root', 'carol'] as const) {
      const a = await signUp(server.url, name);
      users[name] = { token: a.token, id: a.user.id };
    }
    // carol and root are admins (the role on their accounts).
    await db.db.updateTable('users').set({ role: 'admin' }).where('username_lower', '=', 'carol').execute();
    await grantAdmin(server, 'Root');
  }, 60_000);

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await db?.close();
    await server?.stop();
  });

  it('has no sunset at first', async () => {
    expect(await status()).toEqual({ phase: 'none', schedule: null, now: iso(now) });
  });

  it('hides the admin API from anonymous callers and non-admins (404), for every method', async () => {
    for (const who of [undefined, 'bob'] as const) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await call(method, '/api/admin/sunset', who, method === 'PUT' ? { ...dates, message } : undefined);
        expect(res.status, `${method} as ${who ?? 'anonymous'}`).toBe(404);
        expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: `no route ${method} /api/admin/sunset` } });
      }
    }
    // Nothing was scheduled by them.
    expect(await server.stores.sunset.current()).toBeUndefined();
    expect(await server.stores.audit.list()).toEqual([]);
  });

  it('refuses invalid schedules with 400 and the reason', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...dates, readOnlyAt: dates.offAt }, /exportOnlyAt: must be after readOnlyAt/],
      [{ ...dates, announceAt: iso(t0 - H) }, /announceAt: must be in the future/],
      [{ ...dates, offAt: 'next tuesday' }, /offAt: must be an ISO-8601 date and time/],
      [{ announceAt: dates.announceAt }, /readOnlyAt: required; exportOnlyAt: required; offAt: required/],
      [{ ...dates, message: 42 }, /message: must be a string/],
      [[], /must be an object/],
    ];
    for (const [body, reason] of cases) {
      const res = await call('PUT', '/api/admin/sunset', 'root', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const err = ((await res.json()) as { error: { code: string; message: string } }).error;
      expect(err.code).toBe('VALIDATION_FAILED');
      expect(err.message).toMatch(reason);
    }
    const malformed = await call('PUT', '/api/admin/sunset', 'root', '{"announceAt": ');
    expect(malformed.status).toBe(400);
    expect(await server.stores.sunset.current()).toBeUndefined();
  });

  it('lets an admin schedule and cancel, audited', async () => {
    const put = await call('PUT', '/api/admin/sunset', 'carol', { ...dates, message: 'first try' });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ phase: 'none', schedule: { ...dates, message: 'first try', createdBy: users.carol.id } });

    const del = await call('DELETE', '/api/admin/sunset', 'root');
    expect(del.status).toBe(200);
    expect(await del.json()).toMatchObject({ cancelled: true, phase: 'none', schedule: null });

    const res = await call('PUT', '/api/admin/sunset', 'root', { ...dates, message });
    expect(res.status).toBe(200);
    const view = (await res.json()) as { phase: string; schedule: Record<string, string>; audit: Array<Record<string, unknown>> };
    expect(view.phase).toBe('none');
    expect(view.schedule).toMatchObject({ ...dates, message, createdBy: users.root.id });
    expect(view.audit.map((e) => [e['action'], e['actorId']])).toEqual([
      ['sunset.schedule', users.root.id],
      ['sunset.cancel', users.root.id],
      ['sunset.schedule', users.carol.id],
    ]);
    expect(view.audit[0]).toMatchObject({ details: { username: 'root', ...dates, message } });
    const audit = await server.stores.audit.list();
    expect(audit).toHaveLength(3);
    expect(Math.abs(Date.parse(audit[0]!.at) - Date.now())).toBeLessThan(60_000);

    // Not announced yet: the public sees nothing, sign-up still works.
    expect(await status()).toEqual({ phase: 'none', schedule: null, now: iso(now) });
    expect((await trySignUp('early_bird')).status).toBe(201);
  });

  let replayId: string;

  it('announced: sign-up is refused with SERVICE_SUNSET; going live and chat go on', async () => {
    // A finished broadcast with a downloadable replay, for the export-only phase.
    const alice = await socketOf('alice');
    const { broadcast } = await ok(alice, 'broadcast:start', { title: 'last show', visibility: 'public', invitees: [] });
    await ok(alice, 'broadcast:stop', { broadcastId: broadcast.id });
    replayId = broadcast.id;
    await server.stores.replays.begin(broadcast.id);
    await server.stores.replays.markProcessing(broadcast.id);
    mkdirSync(path.join(server.dataDir, 'replays', broadcast.id), { recursive: true });
    writeFileSync(path.join(server.dataDir, 'replays', broadcast.id, 'replay.mp4'), mp4);
    await server.stores.replays.applyOutput(broadcast.id, 'ready', {
      durationMs: 1000,
      width: 320,
      height: 240,
      timeline: [{ offsetMs: 0, mediaStartMs: 0, durationMs: 1000 }],
      poster: null,
      webm: null,
      videoMp4: null,
      hls: null,
      mp4: { name: 'replay.mp4', sizeBytes: mp4.length, sha256: createHash('sha256').update(mp4).digest('hex') },
    });

    now = t0 + H;
    expect(await status()).toEqual({ phase: 'announced', schedule: { ...dates, message }, now: iso(now) });

    const res = await trySignUp('too_late');
    expect(res.status).toBe(403);
    const err = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('SERVICE_SUNSET');
    expect(err.message).toMatch(/new sign-ups are closed/);
    expect(err.message).toContain(message);
    // Signing in still works.
    const signIn = await call('POST', '/api/auth/signin', undefined, { username: 'bob', password: 'correct horse battery' });
    expect(signIn.status).toBe(200);

    const bob = await socketOf('bob');
    const { broadcast: live } = await ok(bob, 'broadcast:start', { title: 'still allowed', visibility: 'public', invitees: [] });
    await ok(bob, 'chat:send', { broadcastId: live.id, text: 'hello while announced' });
    liveId = live.id;
    bobSocket = bob;
  });

  let liveId: string;
  let bobSocket: ClientSocket;

  it('read-only: going live, chat and hearts are refused; what is still live is ended; replays play', async () => {
    now = t0 + 2 * H;
    // Listening before anything awaits: the periodic refresh may see the switch at any moment from here.
    const ended = nextEvent(bobSocket, 'broadcast:ended');
    expect((await status()).phase).toBe('read-only');

    const chat = await request(bobSocket, 'chat:send', { broadcastId: liveId, text: 'too late' });
    expect(chat).toMatchObject({ ok: false, error: { code: 'SERVICE_SUNSET' } });
    if (!chat.ok) expect(chat.error.message).toMatch(/read-only/);
    const heart = await request(bobSocket, 'heart:send', { broadcastId: liveId });
    expect(heart).toMatchObject({ ok: false, error: { code: 'SERVICE_SUNSET' } });
    // The switch is seen at the next schedule refresh (every 5 s, or now): the broadcast ends, with why.
    await server.sunset.refresh();
    expect(await ended).toEqual({ broadcastId: liveId, reason: 'service-closing' });
    expect((await server.stores.broadcasts.get(liveId as never))?.status).toBe('ended');

    const alice = await socketOf('alice');
    const start = await request(alice, 'broadcast:start', { title: 'one more', visibility: 'public', invitees: [] });
    expect(start).toMatchObject({ ok: false, error: { code: 'SERVICE_SUNSET' } });
    expect(await server.stores.broadcasts.findLiveByOwner(users.alice.id as never)).toBeUndefined();

    expect((await call('GET', `/api/replays/${replayId}`)).status).toBe(200);
    expect((await trySignUp('still_too_late')).status).toBe(403);
  });

  it('export-only: downloads, replays and sign-in work; live listing and socket connections are refused', async () => {
    now = t0 + 3 * H;
    expect((await status()).phase).toBe('export-only');

    const dl = await call('GET', `/api/replays/${replayId}/download`);
    expect(dl.status).toBe(200);
    expect(Buffer.from(await dl.arrayBuffer())).toEqual(mp4);
    expect((await call('GET', `/api/replays/${replayId}`)).status).toBe(200);
    expect((await call('GET', '/api/replays?scope=mine', 'alice')).status).toBe(200);
    expect((await call('POST', '/api/auth/signin', undefined, { username: 'alice', password: 'correct horse battery' })).status).toBe(200);
    expect((await call('GET', '/api/auth/me', 'alice')).status).toBe(200);

    const list = await call('GET', '/api/broadcasts');
    expect(list.status).toBe(403);
    expect(((await list.json()) as { error: { code: string } }).error.code).toBe('SERVICE_SUNSET');

    await expect(connect(server.url, users.alice.token)).rejects.toThrow('SERVICE_SUNSET');
    // Admins can still see (and change) the schedule.
    expect((await call('GET', '/api/admin/sunset', 'root')).status).toBe(200);
  });

  it('off: every path but /healthz is the farewell page (410); sockets are refused', async () => {
    now = t0 + 4 * H;
    for (const p of ['/', '/api/broadcasts', `/api/replays/${replayId}/download`, '/api/sunset', '/watch/whatever', '/readyz']) {
      const res = await call('GET', p);
      expect(res.status, p).toBe(410);
      expect(res.headers.get('content-type'), p).toMatch(/^text\/html/);
      const html = await res.text();
      expect(html).toContain('Spyglass has closed');
      // The admin's message, escaped.
      expect(html).toContain('Thank you for watching &lt;3');
    }
    expect((await call('POST', '/api/auth/signin', undefined, { username: 'alice', password: 'x' })).status).toBe(410);
    expect((await call('PUT', '/api/admin/sunset', 'root', { ...dates, message })).status).toBe(410);
    expect((await call('GET', '/healthz')).status).toBe(200);
    await expect(connect(server.url, users.alice.token)).rejects.toThrow('SERVICE_SUNSET');
    await expect(connect(server.url)).rejects.toThrow('SERVICE_SUNSET');
  });

  it('computes the phase from the stored dates: a schedule cancelled elsewhere (the CLI) reopens the service', async () => {
    // Another process cancels through the database; this server sees it at its next refresh.
    await server.stores.sunset.cancel('cli');
    await server.sunset.refresh();
    expect(await status()).toEqual({ phase: 'none', schedule: null, now: iso(now) });
    expect((await trySignUp('welcome_back')).status).toBe(201);
  });
});

describe('npm run admin (the CLI, against a SQLite data dir)', () => {
  const root = path.join(import.meta.dirname, '..', '..', '..');
  let dataDir: string;
  let db: DatabaseHandle;

  /** Runs `npx tsx scripts/admin.ts …`; resolves with the exit code and output (never rejects on a non-zero exit). */
  function admin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, NODE_ENV: 'test' };
    delete env.DATABASE_URL;
    delete env.SPYGLASS_CONFIG;
    return new Promise((resolve) => {
      execFile('npx', ['tsx', 'scripts/admin.ts', ...args], { cwd: root, env, timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-admin-cli-'));
    db = await openDatabase({ sqlitePath: path.join(dataDir, 'spyglass.db'), logger: createLogger({ level: 'silent' }) });
    await createStores(db.db, 'unused-secret-0123456789').users.create('Dana', 'scrypt$fake');
  });

  afterAll(async () => {
    await db?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const stores = () => createStores(db.db, 'unused-secret-0123456789');

  it('grants the admin role, audited as cli; refuses unknown users', async () => {
    const r = await admin('grant-admin', 'dana');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Dana is now an admin');
    expect((await stores().users.findByUsername('dana'))?.role).toBe('admin');
    expect((await stores().audit.list())[0]).toMatchObject({ actorId: 'cli', action: 'user.grant-admin', details: { username: 'Dana' } });

    const missing = await admin('grant-admin', 'nobody');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no user named "nobody"');
  }, 60_000);

  it('refuses bad schedules with the reasons and a non-zero exit', async () => {
    const past = await admin('sunset', 'schedule', '--announce', '2020-01-01T00:00:00Z', '--read-only', 'soon', '--export-only', '2040-01-01T00:00:00Z', '--off', '2039-01-01T00:00:00Z');
    expect(past.code).toBe(1);
    expect(past.stderr).toContain('--announce: must be in the future');
    expect(past.stderr).toContain('--read-only: must be an ISO-8601 date and time');
    expect(past.stderr).toContain('--off: must be after --export-only');

    const noValue = await admin('sunset', 'schedule', '--announce');
    expect(noValue.code).toBe(2);
    expect(noValue.stderr).toContain('--announce needs a value');
    const unknown = await admin('sunset', 'frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown sunset subcommand "frobnicate"');
    expect(await stores().sunset.current()).toBeUndefined();
  }, 60_000);

  it('schedules, shows and cancels', async () => {
    const year = new Date().getUTCFullYear() + 5;
    const dates = { announceAt: `${year}-01-01T00:00:00.000Z`, readOnlyAt: `${year}-02-01T00:00:00.000Z`, exportOnlyAt: `${year}-03-01T00:00:00.000Z`, offAt: `${year}-04-01T00:00:00.000Z` };
    const r = await admin('sunset', 'schedule', '--announce', dates.announceAt, '--read-only', dates.readOnlyAt, '--export-only', dates.exportOnlyAt, `--off=${dates.offAt}`, '--message', 'Goodbye, friends');
    expect(r.code, r.stderr).toBe(0);
    expect(await stores().sunset.current()).toMatchObject({ ...dates, message: 'Goodbye, friends', createdBy: 'cli' });
    expect((await stores().audit.list())[0]).toMatchObject({ actorId: 'cli', action: 'sunset.schedule', details: { ...dates, message: 'Goodbye, friends' } });

    const show = await admin('sunset', 'show', '--json');
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ phase: 'none', schedule: { ...dates, message: 'Goodbye, friends' } });

    const cancel = await admin('sunset', 'cancel');
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain('Sunset cancelled');
    expect(await stores().sunset.current()).toBeUndefined();
    expect((await stores().audit.list())[0]).toMatchObject({ actorId: 'cli', action: 'sunset.cancel' });
    expect((await admin('sunset', 'show')).stdout).toContain('No sunset is scheduled');
  }, 60_000);
});
