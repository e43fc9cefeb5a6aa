import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audioRtpParameters, videoSimulcastRtpParameters } from '../../fixtures/rtp.ts';
import { connect, grantAdmin, ok, rawRequest, request, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

const dtlsParameters = {
  role: 'client' as const,
  fingerprints: [{ algorithm: 'sha-256' as const, value: Array.from({ length: 32 }, () => 'AB').join(':') }],
};

/** The samples of `name` (`name{labels} value`) in a Prometheus text exposition whose labels include `labels`. */
function samples(text: string, name: string, labels: Record<string, string> = {}): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) out.push(Number(m[3]));
  }
  return out;
}
const sample = (text: string, name: string, labels: Record<string, string> = {}) => samples(text, name, labels)[0];
const total = (text: string, name: string, labels: Record<string, string> = {}) => samples(text, name, labels).reduce((a, b) => a + b, 0);

describe('/metrics', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  beforeAll(async () => {
    server = await startTestServer({ metrics: { port: 0 } });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it('answers admins on the service port and hides from everyone else like a missing page', async () => {
    const missing = await fetch(`${server.url}/no-such-page`);
    const anonymous = await fetch(`${server.url}/metrics`);
    expect(anonymous.status).toBe(missing.status);
    expect(await anonymous.text()).toBe(await missing.text());
    const user = await signUp(server.url, 'metricsuser');
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${user.token}` } })).status).toBe(missing.status);
    const admin = await signUp(server.url, 'metricsadmin');
    await grantAdmin(server, 'metricsadmin');
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${admin.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(sample(text, 'spyglass_media_workers')).toBe(server.pool.workers.length);
    expect(sample(text, 'spyglass_disk_free_bytes')).toBeGreaterThan(0);
    expect(text).toContain('spyglass_process_cpu_seconds_total');
  });

  it('counts what a live broadcast and a viewer hold, and nothing of them once they are gone', async () => {
    const scrape = async () => {
      const res = await fetch(server.metricsUrl!);
      expect(res.status).toBe(200);
      return res.text();
    };
    const before = await scrape();
    expect(sample(before, 'spyglass_live_broadcasts')).toBe(0);

    const alice = await signUp(server.url, 'metricsalice');
    const socket = await connect(server.url, alice.token);
    sockets.push(socket);
    const { broadcast } = await ok(socket, 'broadcast:start', { title: 'counted', visibility: 'public', invitees: [] });
    const send = await ok(socket, 'transport:create', { broadcastId: broadcast.id });
    await ok(socket, 'transport:connect', { broadcastId: broadcast.id, transportId: send.id, dtlsParameters });
    await ok(socket, 'produce', { broadcastId: broadcast.id, transportId: send.id, kind: 'audio', rtpParameters: audioRtpParameters });
    await ok(socket, 'produce', { broadcastId: broadcast.id, transportId: send.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });

    const viewer = await connect(server.url);
    sockets.push(viewer);
    const joined = await ok(viewer, 'broadcast:join', { broadcastId: broadcast.id });
    const recv = await ok(viewer, 'transport:create', { broadcastId: broadcast.id });
    await ok(viewer, 'transport:connect', { broadcastId: broadcast.id, transportId: recv.id, dtlsParameters });
    await ok(viewer, 'consume', { broadcastId: broadcast.id, transportId: recv.id, rtpCapabilities: joined.rtpCapabilities });

    const during = await scrape();
    expect(sample(during, 'spyglass_live_broadcasts')).toBe(1);
    expect(sample(during, 'spyglass_socket_connections')).toBe(2);
    expect(total(during, 'spyglass_media_producers', { kind: 'audio' })).toBe(1);
    expect(total(during, 'spyglass_media_producers', { kind: 'video' })).toBe(1);
    expect(total(during, 'spyglass_media_consumers', { kind: 'audio' })).toBe(1);
    expect(total(during, 'spyglass_media_consumers', { kind: 'video' })).toBe(1);
    expect(total(during, 'spyglass_media_transports')).toBeGreaterThanOrEqual(2);
    expect(total(during, 'spyglass_media_worker_cpu_seconds_total')).toBeGreaterThan(0);
    // No label names a user or a broadcast.
    expect(during).not.toContain(broadcast.id);
    expect(during).not.toContain('metricsalice');

    await ok(socket, 'broadcast:stop', { broadcastId: broadcast.id });
    viewer.disconnect();
    await expect
      .poll(async () => {
        const t = await scrape();
        return [sample(t, 'spyglass_live_broadcasts'), total(t, 'spyglass_media_consumers'), total(t, 'spyglass_media_producers')];
      })
      .toEqual([0, 0, 0]);
  });

  it('counts the join-to-first-frame times viewers report, once per join, from viewers only', async () => {
    const owner = await signUp(server.url, 'metricsframes');
    const caster = await connect(server.url, owner.token);
    sockets.push(caster);
    const { broadcast } = await ok(caster, 'broadcast:start', { title: 'first frames', visibility: 'public', invitees: [] });
    const broadcastId = broadcast.id;
    const viewer = await connect(server.url);
    const stranger = await connect(server.url);
    sockets.push(viewer, stranger);
    await ok(viewer, 'broadcast:join', { broadcastId });

    expect(await request(stranger, 'stats:first-frame', { broadcastId, ms: 100 })).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });
    for (const bad of [{ broadcastId, ms: -1 }, { broadcastId, ms: 120_001 }, { broadcastId, ms: 1.5 }, { broadcastId, ms: '250' }, { broadcastId }, { broadcastId, ms: 250, extra: 1 }]) {
      expect(await rawRequest(viewer, 'stats:first-frame', bad), JSON.stringify(bad)).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    }
    expect(await request(viewer, 'stats:first-frame', { broadcastId, ms: 250 })).toEqual({ ok: true, data: {} });
    // Once per join: a second report is refused until the viewer joins again.
    expect(await request(viewer, 'stats:first-frame', { broadcastId, ms: 50 })).toMatchObject({ ok: false, error: { code: 'WRONG_STATE' } });
    await ok(viewer, 'broadcast:leave', { broadcastId });
    await ok(viewer, 'broadcast:join', { broadcastId });
    await ok(viewer, 'stats:first-frame', { broadcastId, ms: 1200 });

    const text = await (await fetch(server.metricsUrl!)).text();
    expect(sample(text, 'spyglass_join_first_frame_seconds_count', { served: 'origin' })).toBe(2);
    expect(sample(text, 'spyglass_join_first_frame_seconds_bucket', { served: 'origin', le: '0.3' })).toBe(1);
    expect(sample(text, 'spyglass_join_first_frame_seconds_bucket', { served: 'origin', le: '1.5' })).toBe(2);
    expect(sample(text, 'spyglass_join_first_frame_seconds_sum', { served: 'origin' })).toBeCloseTo(1.45, 6);
    await ok(caster, 'broadcast:stop', { broadcastId });
  });

  it('answers 404 on the metrics port for anything but GET /metrics', async () => {
    const base = server.metricsUrl!.replace(/\/metrics$/, '');
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${base}/metrics/../admin`)).status).toBe(404);
  });
});
