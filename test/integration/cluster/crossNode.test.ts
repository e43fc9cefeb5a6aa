import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { pipeChannels } from '../../../common/cluster/pipeProtocol.ts';
import { AppError } from '../../../common/errors.ts';
import { createLogger } from '../../../common/logger.ts';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { RedisRpc } from '../../../common/redisRpc.ts';
import { synthesiseClip } from '../../../testkit/media.ts';
import { FAULT_CLIP } from '../../faults/harness.ts';
import { PlainBroadcaster, PlainViewers, type ViewerStats } from '../../../testkit/plainPeers.ts';
import { installPlainWebRtc } from '../../../testkit/plainWebRtc.ts';
import { createTestDatabase, type TestDatabase } from '../../../testkit/postgres.ts';
import { connect, nextEvent, ok, request, signUp, startTestNodes, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

/**
 * Media across nodes (docs/scale.md): two Spyglass nodes in one deployment (one PostgreSQL,
 * one Redis prefix, `cluster.enabled`, the Redis socket.io adapter). A broadcast goes live on
 * node A (its origin); viewers that reached node B watch it through one pipe A → B
 * (PipeTransports with SRTP), whatever their number. The peers are the synthetic ones of
 * testkit/plainPeers.ts (the real socket.io protocol; plain RTP at the viewer's edge).
 */
describe('two nodes: a broadcast on A watched on B', () => {
  let db: TestDatabase | undefined;
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let clip = '';
  const sockets: ClientSocket[] = [];
  let rpc: RedisRpc | undefined;

  beforeAll(async () => {
    installPlainWebRtc();
    db = await createTestDatabase();
    [a, b] = await startTestNodes(db.url, ['node-a', 'node-b'], { cluster: { relayIdleMs: 1000 }, metrics: { port: 0, host: '127.0.0.1' } });
    clip = await synthesiseClip(FAULT_CLIP);
    rpc = new RedisRpc(a!.config.redisUrl, createLogger({ level: 'silent' }));
    await rpc.ready();
  }, 120_000);
  afterAll(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    await rpc?.close();
    await b?.stop().catch(() => undefined);
    await a?.stop().catch(() => undefined);
    await db?.drop();
  });

  const receivingBoth = (v: ViewerStats, since: number) => v.video > 0 && v.audio > 0 && v.lastRtpAt !== null && v.lastRtpAt > since;

  /** Ends the broadcast (if a test failed before it did) and disconnects its broadcaster. */
  async function stop(caster: PlainBroadcaster): Promise<void> {
    await request(caster.socket, 'broadcast:stop', { broadcastId: caster.broadcastId }).catch(() => undefined);
    await caster.close();
  }

  async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
      await sleep(100);
    }
  }

  it('viewers on B receive audio and video through one pipe; counts, chat and the end cross nodes', async () => {
    const owner = await signUp(a!.url, 'crossowner');
    const caster = await PlainBroadcaster.start(a!.url, owner.token, clip, 'Across nodes');
    const id = caster.broadcastId as BroadcastId;
    const counts: number[] = [];
    caster.socket.on('viewers:count', (e) => counts.push(e.count));
    let onB: PlainViewers | undefined;
    let onA: PlainViewers | undefined;
    try {
      // Signed-in viewers: each is one person in the count (anonymous ones count once per address and node).
      const tokens = await Promise.all(['crossv1', 'crossv2', 'crossv3', 'crossv4'].map(async (name) => (await signUp(a!.url, name)).token));
      onB = await PlainViewers.join(b!.url, id, 3, { lossRate: 0, tokens: tokens.slice(0, 3) });
      onA = await PlainViewers.join(a!.url, id, 1, { lossRate: 0, tokens: tokens.slice(3) });
      const since = Date.now();
      await until('every viewer receives audio and video', () => [...onB!.stats(), ...onA!.stats()].every((v) => receivingBoth(v, since)));
      expect(onB.stats().every((v) => v.joinFailures === 0)).toBe(true);

      // One pipe for the three viewers on B; B serves them through one relay; A hosts the broadcast.
      expect(Object.fromEntries(a!.cluster!.pipesByNode())).toEqual({ 'node-b': 1 });
      expect(b!.cluster!.relays.count).toBe(1);
      expect(b!.live.onAir(id)).toBeUndefined();
      expect(a!.live.onAir(id)).toBeDefined();
      const metricsA = await (await fetch(a!.metricsUrl!)).text();
      const metricsB = await (await fetch(b!.metricsUrl!)).text();
      expect(metricsA).toContain('spyglass_cluster_pipes{edge_node="node-b",process="signaling"} 1');
      expect(metricsB).toMatch(/^spyglass_cluster_relays\{process="signaling"\} 1$/m);
      expect(metricsA).toMatch(/^spyglass_cluster_nodes\{process="signaling"\} 2$/m);
      // The pipe's traffic: packets and bytes flowed to node-b (and its NACK and key-frame counters are there).
      const sent = (name: string) => Number(new RegExp(`^${name}\\{edge_node="node-b",process="signaling"\\} (\\d+)$`, 'm').exec(metricsA)?.[1] ?? -1);
      expect(sent('spyglass_cluster_pipe_sent_packets')).toBeGreaterThan(0);
      expect(sent('spyglass_cluster_pipe_sent_bytes')).toBeGreaterThan(sent('spyglass_cluster_pipe_sent_packets'));
      expect(sent('spyglass_cluster_pipe_nacks')).toBeGreaterThanOrEqual(0);
      expect(sent('spyglass_cluster_pipe_keyframe_requests')).toBeGreaterThanOrEqual(0);

      // The broadcaster's count adds up both nodes.
      await until('the broadcaster sees the viewers of both nodes', () => counts.at(-1) === 4, 10_000);

      // Chat from a signed-in viewer on B reaches the broadcaster on A.
      const chatter = await signUp(b!.url, 'crosschatter');
      const chatSocket = await connect(b!.url, chatter.token);
      sockets.push(chatSocket);
      await ok(chatSocket, 'broadcast:join', { broadcastId: id });
      const heard = nextEvent(caster.socket, 'chat:message', 5000, (m) => m.text === 'hello from B');
      await ok(chatSocket, 'chat:send', { broadcastId: id, text: 'hello from B' });
      expect((await heard).text).toBe('hello from B');

      // The end reaches the viewers on B, and the pipe and the relay close.
      await ok(caster.socket, 'broadcast:stop', { broadcastId: id });
      await until('viewers on B learn that the broadcast ended', () => onB!.stats().every((v) => v.ended !== null), 5000);
      await until('the pipe and the relay close', () => a!.cluster!.pipesByNode().size === 0 && b!.cluster!.relays.count === 0, 5000);
      const joinAfter = await request(chatSocket, 'broadcast:join', { broadcastId: id });
      expect(joinAfter.ok ? 'joined' : joinAfter.error.code).toBe('BROADCAST_ENDED');
    } finally {
      onB?.close();
      onA?.close();
      await stop(caster);
    }
  }, 90_000);

  it('the last viewer on B leaving closes the relay and its pipe after the idle time', async () => {
    const owner = await signUp(a!.url, 'idleowner');
    const caster = await PlainBroadcaster.start(a!.url, owner.token, clip, 'Idle relay');
    try {
      const viewers = await PlainViewers.join(b!.url, caster.broadcastId, 1, { lossRate: 0 });
      const since = Date.now();
      await until('the viewer on B receives', () => viewers.stats().every((v) => receivingBoth(v, since)));
      expect(a!.cluster!.pipesByNode().get('node-b')).toBe(1);
      viewers.close();
      // relayIdleMs is 1 s here.
      await until('the idle relay and its pipe close', () => b!.cluster!.relays.count === 0 && a!.cluster!.pipesByNode().size === 0, 6000);
      expect(a!.live.onAir(caster.broadcastId as BroadcastId)).toBeDefined();
    } finally {
      await stop(caster);
    }
  }, 60_000);

  it('refuses pipe requests that are malformed, for a broadcast it does not host, or from a node not in the registry', async () => {
    const owner = await signUp(a!.url, 'pipeowner');
    const caster = await PlainBroadcaster.start(a!.url, owner.token, clip, 'Pipe requests');
    const origin = pipeChannels(a!.config.queuePrefix, 'node-a').origin;
    const edge = { ip: '127.0.0.1', port: 40000, srtp: { cryptoSuite: 'AEAD_AES_256_GCM', keyBase64: `${'A'.repeat(59)}=` } };
    const open = (over: Record<string, unknown>) => ({ op: 'open', broadcastId: caster.broadcastId, pipeId: randomUUID(), edgeNodeId: 'node-b', edge, ...over });
    const codeOn = (channel: string, payload: unknown) =>
      rpc!.call(channel, payload, 3000).then(
        () => 'answered',
        (err: unknown) => (err instanceof AppError ? err.code : String(err)),
      );
    const codeOf = (payload: unknown) => codeOn(origin, payload);
    try {
      expect(await codeOf({ op: 'open' })).toBe('VALIDATION_FAILED');
      expect(await codeOf(open({ edge: { ...edge, ip: 'not-an-ip' } }))).toBe('VALIDATION_FAILED');
      expect(await codeOf(open({ edge: { ...edge, srtp: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: edge.srtp.keyBase64 } } }))).toBe('VALIDATION_FAILED');
      expect(await codeOf('{"op":"open"')).toBe('VALIDATION_FAILED');
      expect(await codeOf(open({ broadcastId: 'b_notHostedHere' }))).toBe('NOT_FOUND');
      expect(await codeOf(open({ edgeNodeId: 'node-unknown' }))).toBe('FORBIDDEN');
      expect(await codeOf(open({ edgeNodeId: 'node-a' }))).toBe('FORBIDDEN');
      // A close for a pipe that does not exist changes nothing.
      expect(await codeOf({ op: 'close', broadcastId: caster.broadcastId, pipeId: randomUUID(), edgeNodeId: 'node-b' })).toBe('answered');
      // The edge's channel refuses announcements for pipes it did not open.
      const toEdge = pipeChannels(a!.config.queuePrefix, 'node-b').edge;
      expect(await codeOn(toEdge, { op: 'closed', broadcastId: caster.broadcastId, pipeId: randomUUID() })).toBe('NOT_FOUND');
      expect(a!.cluster!.pipesByNode().size).toBe(0);
      expect(a!.live.onAir(caster.broadcastId as BroadcastId)).toBeDefined();
    } finally {
      await stop(caster);
    }
  }, 60_000);
});
