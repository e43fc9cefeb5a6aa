import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReportIdSchema, type BroadcastId, type ChatMessageId, type UserId } from '../../common/protocol/ids.ts';
import type { AdminReport } from '../../common/protocol/reports.ts';
import { connect, grantAdmin, nextEvent, ok, request, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

type Role = 'anonymous' | 'user' | 'owner' | 'suspended' | 'admin';

/**
 * Reports, the admins' queue and suspension (docs/moderation.md), tried as every role over
 * HTTP and socket.io: anonymous callers cannot report; users report what they can see, and an
 * item they cannot see answers exactly like one that never existed; a second report of the
 * same item is the first; reports are rate-limited; to everyone but an admin the admin routes
 * are a missing route; a suspended user cannot go live or chat, sees why, can still sign in
 * and ask for their archive; a suspended broadcaster's live broadcast ends at once; every
 * admin action is audited; state-changing requests from other origins are refused.
 */
describe('reports and suspension: authorisation by role, no oracle, audit', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  const tokens = {} as Record<Exclude<Role, 'anonymous'> | 'privy' | 'flood', string>;
  const ids = {} as Record<'owner' | 'suspended' | 'admin' | 'user', UserId>;
  const unknownBroadcast = 'b_neverexisted00' as BroadcastId;
  const unknownMessage = 'm_neverexisted00' as ChatMessageId;
  const REPORT_LIMIT = 5;

  type Who = Role | 'privy' | 'flood';
  const call = (method: string, p: string, who: Who, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${p}`, {
      method,
      headers: {
        ...(who === 'anonymous' ? {} : { authorization: `Bearer ${tokens[who]}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const answer = async (res: Response) => ({ status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } & Record<string, unknown> });
  const fileReport = (who: Who, kind: string, id: string, reason = 'spam', details?: string) =>
    call('POST', '/api/reports', who, { kind, id, reason, ...(details === undefined ? {} : { details }) });

  async function socketOf(who: Exclude<Who, 'anonymous'>): Promise<ClientSocket> {
    const s = await connect(server.url, tokens[who]);
    sockets.push(s);
    return s;
  }

  // The owner's public live broadcast, with a line of chat by a user; another owner's private
  // broadcast (live, with a message) and private replay that nobody else may see.
  let ownerSocket: ClientSocket;
  let publicLive: BroadcastId;
  let userMessage: ChatMessageId;
  let privateLive: BroadcastId;
  let privateMessage: ChatMessageId;
  let privateReplay: BroadcastId;

  beforeAll(async () => {
    // Chat's own limit out of the way: the owner writes many lines here.
    server = await startTestServer({ limits: { reportsPerUser: REPORT_LIMIT, reportWindowSeconds: 3600 }, live: { chatBurst: 1000 } });
    for (const who of ['user', 'owner', 'suspended', 'admin', 'privy', 'flood'] as const) {
      const up = await signUp(server.url, `${who}_${Math.random().toString(36).slice(2, 8)}`);
      tokens[who] = up.token;
      if (who !== 'privy' && who !== 'flood') ids[who] = up.user.id;
    }
    const admin = await server.stores.users.findById(ids.admin);
    await grantAdmin(server, admin!.username);

    ownerSocket = await socketOf('owner');
    publicLive = (await ok(ownerSocket, 'broadcast:start', { title: 'Public show', visibility: 'public' })).broadcast.id;
    const userSocket = await socketOf('user');
    await ok(userSocket, 'broadcast:join', { broadcastId: publicLive });
    userMessage = (await ok(userSocket, 'chat:send', { broadcastId: publicLive, text: 'a rude line' })).message.id;

    const privySocket = await socketOf('privy');
    const ended = (await ok(privySocket, 'broadcast:start', { title: 'Secret replay', visibility: 'private' })).broadcast.id;
    await server.stores.replays.begin(ended);
    await ok(privySocket, 'broadcast:stop', { broadcastId: ended });
    privateReplay = ended;
    privateLive = (await ok(privySocket, 'broadcast:start', { title: 'Secret live', visibility: 'private' })).broadcast.id;
    privateMessage = (await ok(privySocket, 'chat:send', { broadcastId: privateLive, text: 'only mine' })).message.id;
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await server?.stop();
  });

  it('refuses reports from anonymous callers', async () => {
    expect(await answer(await fileReport('anonymous', 'broadcast', publicLive))).toEqual({
      status: 401,
      body: { error: { code: 'UNAUTHENTICATED', message: 'sign in to report' } },
    });
  });

  it('files a user’s report once: the same item again answers the same report', async () => {
    const first = await answer(await fileReport('user', 'broadcast', publicLive, 'harassment', 'shouting at viewers'));
    expect(first.status).toBe(201);
    expect(first.body['report']).toMatchObject({ kind: 'broadcast', targetId: publicLive, reason: 'harassment', details: 'shouting at viewers', state: 'open' });
    const again = await answer(await fileReport('user', 'broadcast', publicLive, 'spam'));
    expect(again).toEqual({ status: 200, body: first.body });
  });

  it('answers an item the caller cannot see exactly like one that never existed', async () => {
    await server.stores.suspensions.suspend(ids.suspended, 'for this test', 'cli');
    for (const who of ['user', 'suspended'] as const) {
      const missingBroadcast = await answer(await fileReport(who, 'broadcast', unknownBroadcast));
      expect(missingBroadcast).toEqual({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'broadcast not found' } } });
      expect(await answer(await fileReport(who, 'broadcast', privateLive))).toEqual(missingBroadcast);
      expect(await answer(await fileReport(who, 'broadcast', privateReplay))).toEqual(missingBroadcast);

      const missingReplay = await answer(await fileReport(who, 'replay', unknownBroadcast));
      expect(missingReplay).toEqual({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'replay not found' } } });
      expect(await answer(await fileReport(who, 'replay', privateReplay))).toEqual(missingReplay);
      expect(await answer(await fileReport(who, 'replay', privateLive))).toEqual(missingReplay);

      const missingMessage = await answer(await fileReport(who, 'message', unknownMessage));
      expect(missingMessage).toEqual({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'message not found' } } });
      expect(await answer(await fileReport(who, 'message', privateMessage))).toEqual(missingMessage);
    }
    await server.stores.suspensions.unsuspend(ids.suspended);
    // Nothing was filed by any of those.
    const queue = (await (await call('GET', '/api/admin/reports', 'admin')).json()) as { reports: AdminReport[] };
    expect(queue.reports.some((r) => r.targetId === privateLive || r.targetId === privateReplay || r.targetId === privateMessage)).toBe(false);
  });

  it('refuses bad input with VALIDATION_FAILED naming the field', async () => {
    const bad = async (body: unknown) => answer(await call('POST', '/api/reports', 'user', body));
    const cases: Array<[unknown, RegExp]> = [
      [{ kind: 'user', id: publicLive, reason: 'spam' }, /^kind: /],
      [{ kind: 'broadcast', id: publicLive, reason: 'boring' }, /^reason: must be one of: spam, harassment/],
      [{ kind: 'broadcast', id: publicLive }, /^reason: /],
      [{ kind: 'broadcast', id: publicLive, reason: 'spam', details: 'x'.repeat(501) }, /^details: details must be at most 500 characters/],
      [{ kind: 'broadcast', id: publicLive, reason: 'spam', details: 'null \u0000 byte' }, /^details: must not contain control characters \(found U\+0000\)/],
      [{ kind: 'message', id: publicLive, reason: 'spam' }, /^id: not a message id/],
      [{ kind: 'broadcast', id: userMessage, reason: 'spam' }, /^id: not a broadcast id/],
      [{ kind: 'broadcast', id: publicLive, reason: 'spam', extra: 1 }, /nrecognized key/],
      [[], /expected object/],
    ];
    for (const [body, message] of cases) {
      const res = await bad(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.body.error?.code).toBe('VALIDATION_FAILED');
      expect(res.body.error?.message).toMatch(message);
    }
    // One's own broadcast or message cannot be reported.
    expect(await answer(await fileReport('owner', 'broadcast', publicLive))).toEqual({
      status: 400,
      body: { error: { code: 'VALIDATION_FAILED', message: 'you cannot report your own broadcast' } },
    });
    expect((await answer(await fileReport('user', 'message', userMessage))).body.error?.message).toBe('you cannot report your own message');
  });

  it('refuses state-changing requests from other origins (reports and admin actions alike)', async () => {
    const foreign = { origin: 'http://evil.example' };
    const crossSite = { 'sec-fetch-site': 'cross-site' };
    for (const headers of [foreign, { origin: 'null' }, crossSite]) {
      const r = await answer(await call('POST', '/api/reports', 'user', { kind: 'broadcast', id: publicLive, reason: 'spam' }, headers));
      expect(r.status).toBe(403);
      expect(r.body.error?.code).toBe('FORBIDDEN');
      expect(r.body.error?.message).toMatch(/^cross-origin request refused/);
      const a = await answer(await call('PUT', `/api/admin/users/${ids.owner}/suspension`, 'admin', { reason: 'x' }, headers));
      expect(a.status).toBe(403);
    }
    expect(await server.stores.suspensions.isSuspended(ids.owner)).toBe(false);
    // The page's own origin may.
    const own = await call('POST', '/api/reports', 'user', { kind: 'broadcast', id: publicLive, reason: 'spam' }, { origin: new URL(server.url).origin });
    expect(own.status).toBe(200);
  });

  it('rate-limits new reports per user; asking again about a reported item costs nothing', async () => {
    const floodSocket = await socketOf('flood');
    await ok(floodSocket, 'broadcast:join', { broadcastId: publicLive });
    const lines: ChatMessageId[] = [];
    for (let i = 0; i < REPORT_LIMIT + 1; i++) lines.push((await ok(ownerSocket, 'chat:send', { broadcastId: publicLive, text: `spam ${i}` })).message.id);
    for (const id of lines.slice(0, REPORT_LIMIT)) expect((await fileReport('flood', 'message', id)).status).toBe(201);
    const refused = await fileReport('flood', 'message', lines[REPORT_LIMIT]!);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    expect((await fileReport('flood', 'message', lines[0]!)).status).toBe(200);
  });

  it('answers every admin route with the missing-route 404 to everyone but an admin', async () => {
    const { body: report } = await answer(await fileReport('user', 'message', (await ok(ownerSocket, 'chat:send', { broadcastId: publicLive, text: 'hello' })).message.id));
    const reportId = (report['report'] as { id: string }).id;
    await server.stores.suspensions.suspend(ids.suspended, 'for this test', 'cli');
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/admin/reports'],
      ['GET', '/api/admin/reports?state=resolved'],
      ['GET', `/api/admin/reports/${reportId}`],
      ['POST', `/api/admin/reports/${reportId}`, { action: 'dismiss' }],
      ['POST', `/api/admin/reports/${reportId}`, { action: 'bogus' }],
      ['GET', '/api/admin/suspensions'],
      ['PUT', `/api/admin/users/${ids.owner}/suspension`, { reason: 'nope' }],
      ['DELETE', `/api/admin/users/${ids.owner}/suspension`],
      ['GET', '/api/admin/audit'],
    ];
    for (const who of ['anonymous', 'user', 'owner', 'suspended'] as const) {
      for (const [method, p, body] of routes) {
        const res = await answer(await call(method, p, who, body));
        const path = p.split('?')[0]!.replace(/^\/api/, '');
        expect(res, `${who} ${method} ${p}`).toEqual({ status: 404, body: { error: { code: 'NOT_FOUND', message: `no route ${method} ${path}` } } });
      }
    }
    // The same words as a path nothing serves.
    expect(await answer(await call('GET', '/api/admin/nothing-here', 'user'))).toEqual({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'no route GET /admin/nothing-here' } } });
    await server.stores.suspensions.unsuspend(ids.suspended);
    expect((await server.stores.reports.get(ReportIdSchema.parse(reportId)))?.state).toBe('open');
    expect(await server.stores.suspensions.isSuspended(ids.owner)).toBe(false);
  });

  it('shows admins the queue with each item in context, and refuses bad admin input', async () => {
    const res = await answer(await call('GET', '/api/admin/reports', 'admin'));
    expect(res.status).toBe(200);
    const reports = res.body['reports'] as AdminReport[];
    const onBroadcast = reports.find((r) => r.kind === 'broadcast' && r.targetId === publicLive);
    expect(onBroadcast).toMatchObject({
      reason: 'harassment',
      reporter: { id: ids.user },
      targetUser: { id: ids.owner },
      openReports: 1,
      context: { broadcast: { id: publicLive, title: 'Public show', status: 'live', owner: { id: ids.owner } }, ownerSuspended: false },
    });
    const onMessage = reports.find((r) => r.kind === 'message' && r.reporter.id === ids.user);
    expect(onMessage?.context.message?.text).toBe('hello');
    expect(onMessage?.context.around.map((l) => [l.text, l.reported])).toContainEqual(['hello', true]);
    expect(onMessage?.context.around.length).toBeGreaterThan(1);

    const id = onBroadcast!.id;
    const bad = async (body: unknown) => (await answer(await call('POST', `/api/admin/reports/${id}`, 'admin', body))).body.error;
    expect(await bad({ action: 'explode' })).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await bad({ action: 'suspend' })).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/^reason: /) });
    expect(await bad({ action: 'suspend', reason: '   ' })).toMatchObject({ code: 'VALIDATION_FAILED', message: 'reason: a reason is required: the user is shown it' });
    expect((await answer(await call('POST', '/api/admin/reports/r_neverexisted00', 'admin', { action: 'dismiss' }))).status).toBe(404);
    expect((await answer(await call('POST', '/api/admin/reports/not-an-id', 'admin', { action: 'dismiss' }))).status).toBe(404);
    expect(await answer(await call('PUT', `/api/admin/users/${ids.admin}/suspension`, 'admin', { reason: 'me' }))).toEqual({
      status: 400,
      body: { error: { code: 'VALIDATION_FAILED', message: 'you cannot suspend yourself' } },
    });
    expect((await answer(await call('PUT', '/api/admin/users/u_neverexisted00/suspension', 'admin', { reason: 'x' }))).status).toBe(404);
    expect((await answer(await call('GET', '/api/admin/reports?limit=0', 'admin'))).status).toBe(400);
  });

  it('dismisses a report (once)', async () => {
    const queue = (await (await call('GET', '/api/admin/reports', 'admin')).json()) as { reports: AdminReport[] };
    const message = queue.reports.find((r) => r.kind === 'message' && r.reporter.id === ids.user)!;
    const dismissed = await answer(await call('POST', `/api/admin/reports/${message.id}`, 'admin', { action: 'dismiss' }));
    expect(dismissed.status).toBe(200);
    expect(dismissed.body['report']).toMatchObject({ state: 'dismissed', resolution: 'dismissed' });
    expect((await answer(await call('POST', `/api/admin/reports/${message.id}`, 'admin', { action: 'dismiss' }))).body.error?.code).toBe('WRONG_STATE');
  });

  it('suspends a live broadcaster from a report: the broadcast ends at once; no going live or chat; sign-in and archive still work; then unsuspends', async () => {
    // The suspended role: a user who is live and has a viewer.
    const suspSocket = await socketOf('suspended');
    const live = (await ok(suspSocket, 'broadcast:start', { title: 'Trouble', visibility: 'public' })).broadcast.id;
    const viewer = await socketOf('user');
    await ok(viewer, 'broadcast:join', { broadcastId: live });
    const filed = await answer(await fileReport('user', 'broadcast', live, 'violence', 'threatening people'));
    const reportId = (filed.body['report'] as { id: string }).id;

    const toBroadcaster = nextEvent(suspSocket, 'broadcast:ended', 5000, (e) => e.broadcastId === live);
    const toViewer = nextEvent(viewer, 'broadcast:ended', 5000, (e) => e.broadcastId === live);
    const acted = await answer(await call('POST', `/api/admin/reports/${reportId}`, 'admin', { action: 'suspend', reason: 'threats on air' }));
    expect(acted.status).toBe(200);
    expect(acted.body['report']).toMatchObject({ state: 'actioned', resolution: 'suspended', context: { ownerSuspended: true, broadcast: { status: 'ended' } } });
    expect(await toBroadcaster).toEqual({ broadcastId: live, reason: 'account-suspended' });
    expect(await toViewer).toEqual({ broadcastId: live, reason: 'account-suspended' });
    expect((await server.stores.broadcasts.get(live))?.endReason).toBe('account-suspended');

    const refusal = { code: 'SUSPENDED', message: 'your account is suspended, so you cannot go live: threats on air' };
    expect(await request(suspSocket, 'broadcast:start', { title: 'Again', visibility: 'public' })).toEqual({ ok: false, error: refusal });
    // A new connection (a fresh handshake) is refused the same.
    const fresh = await socketOf('suspended');
    expect(await request(fresh, 'broadcast:start', { title: 'Again', visibility: 'public' })).toEqual({ ok: false, error: refusal });
    await ok(fresh, 'broadcast:join', { broadcastId: publicLive });
    expect(await request(fresh, 'chat:send', { broadcastId: publicLive, text: 'hi' })).toEqual({
      ok: false,
      error: { code: 'SUSPENDED', message: 'your account is suspended, so you cannot chat: threats on air' },
    });
    // Even about a broadcast they cannot see or that does not exist: the answer tells nothing about the id.
    for (const broadcastId of [privateLive, unknownBroadcast]) {
      expect(await request(fresh, 'chat:send', { broadcastId, text: 'hi' })).toEqual({
        ok: false,
        error: { code: 'SUSPENDED', message: 'your account is suspended, so you cannot chat: threats on air' },
      });
    }

    // They see why, can still sign in, and can ask for their archive.
    const me = await answer(await call('GET', '/api/auth/me', 'suspended'));
    expect(me.body['suspension']).toEqual({ reason: 'threats on air', since: expect.any(String) });
    const username = (me.body['user'] as { username: string }).username;
    const signIn = await fetch(`${server.url}/api/auth/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'correct horse battery' }) });
    expect(signIn.status).toBe(200);
    expect((await call('POST', '/api/archives', 'suspended')).status).toBe(202);
    expect((await answer(await call('GET', '/api/auth/me', 'user'))).body['suspension']).toBeNull();

    // Admins see the suspension; suspending again replaces the reason.
    const list = (await answer(await call('GET', '/api/admin/suspensions', 'admin'))).body['suspensions'] as Array<{ user: { id: string }; reason: string }>;
    expect(list.find((s) => s.user.id === ids.suspended)?.reason).toBe('threats on air');

    // Unsuspended: may go live again (and lifting twice is no error).
    expect(await answer(await call('DELETE', `/api/admin/users/${ids.suspended}/suspension`, 'admin'))).toEqual({ status: 200, body: { lifted: true } });
    expect(await answer(await call('DELETE', `/api/admin/users/${ids.suspended}/suspension`, 'admin'))).toEqual({ status: 200, body: { lifted: false } });
    const again = await ok(fresh, 'broadcast:start', { title: 'Back', visibility: 'public' });
    await ok(fresh, 'broadcast:stop', { broadcastId: again.broadcast.id });
  });

  it('suspends by id (PUT), which ends a live broadcast too', async () => {
    const suspSocket = await socketOf('suspended');
    const live = (await ok(suspSocket, 'broadcast:start', { title: 'Once more', visibility: 'public' })).broadcast.id;
    const ended = nextEvent(suspSocket, 'broadcast:ended', 5000, (e) => e.broadcastId === live);
    const res = await answer(await call('PUT', `/api/admin/users/${ids.suspended}/suspension`, 'admin', { reason: 'second strike' }));
    expect(res).toEqual({ status: 200, body: { suspension: { reason: 'second strike', since: expect.any(String) } } });
    expect((await ended).reason).toBe('account-suspended');
    expect((await request(suspSocket, 'broadcast:start', { title: 'x', visibility: 'public' })).ok).toBe(false);
    await call('DELETE', `/api/admin/users/${ids.suspended}/suspension`, 'admin');
  });

  it('ends a live broadcast, deletes a replay from reports, and audits every admin action', async () => {
    // "end" on the public broadcast's report.
    const queue = (await (await call('GET', '/api/admin/reports', 'admin')).json()) as { reports: AdminReport[] };
    const onBroadcast = queue.reports.find((r) => r.kind === 'broadcast' && r.targetId === publicLive)!;
    const viewer = await socketOf('user');
    await ok(viewer, 'broadcast:join', { broadcastId: publicLive });
    const told = nextEvent(viewer, 'broadcast:ended', 5000, (e) => e.broadcastId === publicLive);
    expect((await answer(await call('POST', `/api/admin/reports/${onBroadcast.id}`, 'admin', { action: 'end' }))).body['report']).toMatchObject({ state: 'actioned', resolution: 'ended' });
    expect(await told).toEqual({ broadcastId: publicLive, reason: 'ended-by-admin' });
    expect((await answer(await call('POST', `/api/admin/reports/${onBroadcast.id}`, 'admin', { action: 'end' }))).body.error).toEqual({ code: 'WRONG_STATE', message: 'the broadcast is not live' });

    // "remove" on a replay's report: deleted as its owner would (410 from then on).
    await server.stores.replays.begin(publicLive);
    const filed = await answer(await fileReport('user', 'replay', publicLive, 'sexual'));
    const reportId = (filed.body['report'] as { id: string }).id;
    expect((await answer(await call('POST', `/api/admin/reports/${reportId}`, 'admin', { action: 'remove' }))).body['report']).toMatchObject({
      state: 'actioned',
      resolution: 'deleted',
      context: { broadcast: null },
    });
    expect((await fetch(`${server.url}/api/replays/${publicLive}`)).status).toBe(410);
    // Reporting what is gone now answers like a missing thing.
    expect((await fileReport('suspended', 'replay', publicLive)).status).toBe(404);

    const audit = (await answer(await call('GET', '/api/admin/audit', 'admin'))).body['audit'] as Array<{ actorId: string; action: string; details: Record<string, unknown> }>;
    const actions = audit.filter((e) => e.actorId === ids.admin).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['report.dismiss', 'user.suspend', 'user.unsuspend', 'report.end', 'report.remove']));
    expect(audit.find((e) => e.action === 'user.suspend' && e.details['reason'] === 'threats on air')?.details).toMatchObject({ user: { id: ids.suspended }, reportId: expect.stringMatching(/^r_/) });
    expect(audit.find((e) => e.action === 'report.remove')?.details).toMatchObject({ kind: 'replay', targetId: publicLive, done: 'deleted' });
  });
});
