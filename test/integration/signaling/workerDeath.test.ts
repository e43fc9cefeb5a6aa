import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audioRtpParameters } from '../../fixtures/rtp.ts';
import { connect, nextEvent, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

describe('a mediasoup worker dies during a broadcast', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  beforeAll(async () => {
    server = await startTestServer({ mediasoup: { numWorkers: 2 } });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  async function liveWithViewer(name: string) {
    const a = await signUp(server.url, name);
    const broadcaster = await connect(server.url, a.token);
    const { broadcast } = await ok(broadcaster, 'broadcast:start', { title: name, visibility: 'public', invitees: [] });
    const viewer = await connect(server.url);
    await ok(viewer, 'broadcast:join', { broadcastId: broadcast.id });
    sockets.push(broadcaster, viewer);
    return { broadcaster, viewer, broadcast };
  }

  it('affects only the broadcasts on it, keeps the service up, and replaces the worker', async () => {
    // Least-loaded placement puts the two broadcasts on the two workers.
    const doomed = await liveWithViewer('doomed');
    const loads = server.pool.workers.map((w) => w.load);
    const spared = await liveWithViewer('spared');
    const victim = server.pool.workers.find((w, i) => w.load === loads[i] && w.load > 0) ?? server.pool.workers[0]!;
    expect(server.pool.workers.every((w) => w.load > 0)).toBe(true);

    let sparedInterrupted = false;
    spared.viewer.on('broadcast:interrupted', () => (sparedInterrupted = true));
    spared.broadcaster.on('broadcast:interrupted', () => (sparedInterrupted = true));
    const interruptedViewer = nextEvent(doomed.viewer, 'broadcast:interrupted', 10_000);
    const interruptedBroadcaster = nextEvent(doomed.broadcaster, 'broadcast:interrupted', 10_000);
    const victimPid = victim.pid;
    process.kill(victimPid, 'SIGKILL');

    expect(await interruptedViewer).toEqual({ broadcastId: doomed.broadcast.id, reason: 'media-worker-died' });
    expect(await interruptedBroadcaster).toEqual({ broadcastId: doomed.broadcast.id, reason: 'media-worker-died' });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await expect.poll(() => server.pool.workers[victim.index]?.pid !== victimPid, { timeout: 10_000 }).toBe(true);

    // The broadcaster resumes on a healthy worker and produces again; the viewer rejoins.
    await ok(doomed.broadcaster, 'broadcast:resume', { broadcastId: doomed.broadcast.id });
    const t = await ok(doomed.broadcaster, 'transport:create', { broadcastId: doomed.broadcast.id });
    await ok(doomed.broadcaster, 'produce', { broadcastId: doomed.broadcast.id, transportId: t.id, kind: 'audio', rtpParameters: audioRtpParameters });
    const rejoined = await ok(doomed.viewer, 'broadcast:join', { broadcastId: doomed.broadcast.id });
    expect(rejoined.broadcast.status).toBe('live');

    // The other broadcast never noticed, and still carries chat.
    expect(sparedInterrupted).toBe(false);
    const s = await signUp(server.url, 'chatter');
    const chatter = await connect(server.url, s.token);
    sockets.push(chatter);
    await ok(chatter, 'broadcast:join', { broadcastId: spared.broadcast.id });
    const heard = nextEvent(spared.viewer, 'chat:message');
    await ok(chatter, 'chat:send', { broadcastId: spared.broadcast.id, text: 'unaffected' });
    expect((await heard).text).toBe('unaffected');
  });

  it('recovers even when every worker dies at once, and new broadcasts work after', async () => {
    const hit = await liveWithViewer('everyone_down');
    const pids = server.pool.workers.map((w) => w.pid);
    const interrupted = nextEvent(hit.broadcaster, 'broadcast:interrupted', 15_000);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await interrupted;
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    const b = await signUp(server.url, 'survivor');
    const other = await connect(server.url, b.token);
    sockets.push(other);
    const fresh = await ok(other, 'broadcast:start', { title: 'after the crash', visibility: 'public', invitees: [] });
    const ft = await ok(other, 'transport:create', { broadcastId: fresh.broadcast.id });
    expect(ft.iceCandidates.length).toBeGreaterThan(0);
  });
});
