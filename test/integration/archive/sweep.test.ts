import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveSummary } from '../../../common/protocol/archives.ts';
import type { UserId } from '../../../common/protocol/ids.ts';
import { redisConnection } from '../../../common/redisRpc.ts';
import { QUEUES } from '../../../common/jobs/queues.ts';
import { connect, grantAdmin, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../../testkit/workers.ts';

const H = 3600_000;
const root = path.join(import.meta.dirname, '..', '..', '..');
const iso = (ms: number) => new Date(ms).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sunset pre-generation over the real service (docs/sunset.md): when the announcement comes,
 * every user's archive is built in the background, one at a time, each user is told, and a
 * restart of the signalling process in the middle neither loses nor repeats anyone.
 */
describe('sunset: every user archive is pre-generated at the announcement', () => {
  let now = Date.now();
  const t0 = now;
  const clock = () => now;
  const overrides = { archives: { sweepGapSeconds: 1, backgroundMbPerSecond: 50 } };
  let server: TestServer;
  let workers: WorkersProcess;
  const names = ['root', 'alice', 'bob', 'carol', 'dave'] as const;
  const users = {} as Record<(typeof names)[number], { token: string; id: UserId }>;
  const sockets: ClientSocket[] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'spyglass-sweep-it-'));
  let sweepQueue: Queue;

  const latest = async (who: (typeof names)[number]) =>
    ((await (await fetch(`${server.url}/api/archives/latest`, { headers: { authorization: `Bearer ${users[who].token}` } })).json()) as {
      archive: ArchiveSummary | null;
    }).archive;

  /** Every user's socket; resolves each user's `archive:status` ready event. */
  async function listenForReady(): Promise<Map<string, Promise<ArchiveSummary>>> {
    const ready = new Map<string, Promise<ArchiveSummary>>();
    for (const name of names) {
      const s = await connect(server.url, users[name].token);
      sockets.push(s);
      const told = new Promise<ArchiveSummary>((resolve) => s.on('archive:status', ({ archive }) => archive.state === 'ready' && resolve(archive)));
      // An archive that became ready while no socket of its user was connected (the restart)
      // is told by nothing: the user sees it ready when they look, as here, once connected.
      const already = await latest(name);
      ready.set(name, already?.state === 'ready' ? Promise.resolve(already) : told);
    }
    return ready;
  }

  beforeAll(async () => {
    server = await startTestServer(overrides, { clock });
    workers = await spawnWorkers(server.config);
    sweepQueue = new Queue(QUEUES.sweep, { connection: redisConnection(server.config.redisUrl), prefix: server.config.queuePrefix });
    for (const name of names) {
      const a = await signUp(server.url, name);
      users[name] = { token: a.token, id: a.user.id };
    }
    await grantAdmin(server, 'root');
    // alice has a broadcast with chat: it must be in her archive.
    const s = await connect(server.url, users.alice.token);
    const { broadcast } = await ok(s, 'broadcast:start', { title: 'Before the end', visibility: 'public', invitees: [] });
    await ok(s, 'chat:send', { broadcastId: broadcast.id, text: 'see you on the other side' });
    await ok(s, 'broadcast:stop', { broadcastId: broadcast.id });
    s.close();
  }, 120_000);

  afterAll(async () => {
    for (const s of sockets) s.close();
    await sweepQueue?.close();
    await workers?.stop();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('builds nothing before the announcement', async () => {
    const res = await fetch(`${server.url}/api/admin/sunset`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${users.root.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ announceAt: iso(t0 + H), readOnlyAt: iso(t0 + 2 * H), exportOnlyAt: iso(t0 + 30 * 24 * H), offAt: iso(t0 + 60 * 24 * H), message: 'Goodbye' }),
    });
    expect(res.status).toBe(200);
    await server.sunset.refresh();
    expect(await sweepQueue.count()).toBe(0);
    for (const name of names) expect(await latest(name)).toBeNull();
  });

  it('builds every archive one at a time, tells each user, and resumes after a restart', async () => {
    let ready = await listenForReady();
    now = t0 + H;
    await server.sunset.refresh();

    // Wait for the first user's archive, then restart the signalling process mid-sweep.
    const first = await Promise.race([...ready.entries()].map(([name, p]) => p.then((a) => ({ name, a }))));
    expect(first.a.downloadUrl).toMatch(/^\/api\/archives\/a_[\w-]+\/download\?/);
    const doneBeforeRestart = new Set<string>();
    for (const name of names) if ((await latest(name))?.state === 'ready') doneBeforeRestart.add(name);
    expect(doneBeforeRestart.size).toBeLessThan(names.length);
    for (const s of sockets.splice(0)) s.close();
    const dataDir = server.dataDir;
    await server.stop({ keepData: true });
    server = await startTestServer({ ...overrides, queuePrefix: server.config.queuePrefix }, { clock, dataDir });
    ready = await listenForReady();

    // Everyone else is told once theirs is ready.
    const told = await Promise.all(names.filter((n) => !doneBeforeRestart.has(n)).map((n) => ready.get(n)!));
    expect(told.every((a) => a.state === 'ready' && a.downloadUrl !== null)).toBe(true);

    // Each user has exactly one archive, ready, with a link that lasts until the service goes off.
    for (const name of names) {
      const a = (await latest(name))!;
      expect(a.state).toBe('ready');
      expect(Date.parse(a.expiresAt!)).toBeGreaterThanOrEqual(t0 + 60 * 24 * H);
    }
    // The last sweep job is still in its pause after the last archive: wait for the queue to drain.
    for (let i = 0; i < 100; i++) {
      const counts = await sweepQueue.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
      if (Object.values(counts).every((n) => n === 0)) break;
      await sleep(100);
    }
    const jobs = await sweepQueue.getJobs(['completed']);
    // 'requested': the job whose archive was still building when the process stopped.
    const built = jobs.filter((j) => j.returnvalue === 'built' || j.returnvalue === 'requested');
    expect(built.filter((j) => j.returnvalue === 'requested').length).toBeLessThanOrEqual(1);
    expect(built.map((j) => (j.data as { userId: string }).userId).sort()).toEqual(names.map((n) => users[n].id).sort());
    // One at a time: no two sweep jobs ran at once.
    const spans = built.map((j) => [j.processedOn!, j.finishedOn!] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);

    // The background builds were queued behind users' own requests and rate-capped.
    const archiveQueue = new Queue(QUEUES.archive, { connection: redisConnection(server.config.redisUrl), prefix: server.config.queuePrefix });
    try {
      const archiveJobs = await archiveQueue.getJobs(['completed']);
      expect(archiveJobs).toHaveLength(names.length);
      for (const j of archiveJobs) {
        expect(j.opts.priority).toBeGreaterThan(0);
        expect(j.data).toMatchObject({ maxBytesPerSecond: 50 * 1024 * 1024 });
      }
    } finally {
      await archiveQueue.close();
    }

    // alice's archive holds her broadcast and its chat, and is a valid zip.
    const alice = (await latest('alice'))!;
    const zip = path.join(tmp, 'alice.zip');
    writeFileSync(zip, Buffer.from(await (await fetch(`${server.url}${alice.downloadUrl}`)).arrayBuffer()));
    execFileSync('unzip', ['-tq', zip]);
    const chat = execFileSync('unzip', ['-p', zip, '*/chat.json']).toString();
    expect(chat).toContain('see you on the other side');

    // The operator sees the progress from the CLI.
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: server.dataDir, NODE_ENV: 'test' };
    delete env.DATABASE_URL;
    delete env.SPYGLASS_CONFIG;
    const show = JSON.parse(execFileSync('npx', ['tsx', 'scripts/admin.ts', 'sunset', 'show', '--json'], { cwd: root, env }).toString()) as { archives: unknown };
    expect(show.archives).toEqual({ users: names.length, ready: names.length, building: 0 });

    // A later pass (a phase change, another start) finds nobody left to do.
    const before = await sweepQueue.count();
    now = t0 + 2 * H;
    await server.sunset.refresh();
    await sleep(500);
    expect(await sweepQueue.count()).toBe(before);
  }, 180_000);

  it('sweep jobs of another schedule, of a cancelled sunset or with bad data do nothing', async () => {
    const outcome = async (data: unknown, id: string) => {
      const job = await sweepQueue.add('sweep', data, { jobId: id, attempts: 1 });
      for (let i = 0; i < 100; i++) {
        const state = await job.getState();
        if (state === 'completed' || state === 'failed') return (await sweepQueue.getJob(id))!.returnvalue as unknown;
        await sleep(100);
      }
      throw new Error(`sweep job ${id} did not finish`);
    };
    const announceAt = server.sunset.schedule!.announceAt;
    expect(await outcome({ userId: users.bob.id, announceAt: iso(t0 + 5 * H) }, 'other-schedule')).toBe('not-sweeping');
    expect(await outcome({ userId: '../../etc', announceAt }, 'bad-data')).toBe('not-sweeping');
    expect(await outcome({ userId: 'u_nobodyhere00000000', announceAt }, 'no-user')).toBe('no-such-user');
    expect(await outcome({ userId: users.bob.id, announceAt }, 'bob-again')).toBe('already-has-one');

    const res = await fetch(`${server.url}/api/admin/sunset`, { method: 'DELETE', headers: { authorization: `Bearer ${users.root.token}` } });
    expect(res.status).toBe(200);
    expect(server.sunset.phase()).toBe('none');
    expect(await outcome({ userId: users.carol.id, announceAt }, 'cancelled')).toBe('not-sweeping');
  }, 60_000);
});
