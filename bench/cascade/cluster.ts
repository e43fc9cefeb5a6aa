import { setTimeout as sleep } from 'node:timers/promises';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { PlainBroadcaster, PlainViewers } from '../../testkit/plainPeers.ts';
import { installPlainWebRtc, uninstallPlainWebRtc } from '../../testkit/plainWebRtc.ts';
import { createTestDatabase, type TestDatabase } from '../../testkit/postgres.ts';
import { signUp, startTestNodes, type TestServer } from '../../testkit/server.ts';
import { VIDEO_PT, synthesiseClip, type ClipSpec } from '../../testkit/media.ts';
import { round } from '../lib/proc.ts';
import { percentiles, type Percentiles } from '../lib/stats.ts';

/**
 * Two real Spyglass nodes in this process (`startTestServer`: one PostgreSQL database and one
 * Redis prefix of the run's own, `cluster.enabled`, the Redis socket.io adapter, one mediasoup
 * worker each, recording off), as test/integration/cluster/crossNode.test.ts runs them. The
 * peers are the synthetic ones of testkit/plainPeers.ts: the whole socket.io protocol,
 * plain RTP instead of ICE + DTLS + SRTP at the edges (testkit/plainWebRtc.ts). A
 * broadcast goes live on A (its origin); B reaches it through a relay fed by one pipe.
 *
 * - Time to first frame: a viewer on B when B has no relay of the broadcast (the pipe is opened
 *   on demand), then viewers on B while the relay is open, then a viewer on A; each from
 *   sending `broadcast:join` to its first RTP packet (and first video packet). Then every
 *   viewer leaves, the relay closes after `relayIdleMs`, and the next repetition starts cold.
 * - Transit: one viewer on A and one on B receive the same packets; each packet's time from
 *   leaving the broadcaster's relay (just before its send) to arriving at each viewer, matched
 *   by the last bytes of the RTP payload (the SFU rewrites headers, not payloads), on this
 *   process's clock. Loopback network + SFU(s) + this process's event loop, not camera to screen.
 */

export interface ClusterConfig {
  /** The broadcaster's clip: every frame a key frame (see index.ts). */
  clip: ClipSpec;
  /** Repetitions: one cold join on B each, then `warmJoins` on B, then one on A. */
  repetitions: number;
  warmJoins: number;
  /** cluster.relayIdleMs of both nodes: how soon B's relay closes after its last viewer left. */
  relayIdleMs: number;
  /** How long to wait for a viewer's first packets. */
  firstPacketTimeoutMs: number;
  transitWarmupMs: number;
  transitMs: number;
}

export type JoinWhere = 'cold-edge' | 'warm-edge' | 'origin';

export interface JoinSample {
  repetition: number;
  where: JoinWhere;
  /** `broadcast:join` sent → its answer (on an edge with no relay, the relay opens before it), → first RTP packet, → first video packet (null: none within the timeout). */
  joinAnswerMs: number | null;
  firstRtpMs: number | null;
  firstVideoMs: number | null;
  /** B's relays and A's pipes to B just before the join (cold: 0 and 0; warm: 1 and 1). */
  relaysBefore: number;
  pipesBefore: number;
  joinFailures: number;
}

export interface TransitPath {
  /** Transit of every packet sent in the window that this viewer received, ms. */
  all: Percentiles;
  video: Percentiles;
  audio: Percentiles;
  /** Packets sent in the window that never arrived (or whose payload did not match). */
  missing: number;
}

export interface ClusterResult {
  config: ClusterConfig;
  joins: JoinSample[];
  ttff: Record<'coldEdge' | 'warmEdge' | 'origin', { joinAnswer: Percentiles; firstRtp: Percentiles; firstVideo: Percentiles }>;
  /** From the last viewer on B leaving to B's relay and A's pipe closed, per repetition (relayIdleMs included). */
  relayClosedMs: Percentiles;
  transit: {
    /** RTP packets the broadcaster sent in the window (media only), and their rate in packets and bits per second (RTP headers included). */
    sent: number;
    sentPps: number;
    sentKbps: number;
    origin: TransitPath;
    edge: TransitPath;
    /** Per packet received on both: edge transit − origin transit. */
    edgeMinusOrigin: Percentiles;
    /** Packets a viewer received that match nothing sent in the window (sent before it, or payload changed). */
    unmatched: number;
  };
}

export async function measureCluster(config: ClusterConfig, log: (line: string) => void): Promise<ClusterResult> {
  installPlainWebRtc();
  let db: TestDatabase | undefined;
  let nodes: TestServer[] = [];
  let caster: PlainBroadcaster | undefined;
  const open: PlainViewers[] = [];
  try {
    db = await createTestDatabase();
    const [nodeA, nodeB] = (nodes = await startTestNodes(db.url, ['bench-a', 'bench-b'], { cluster: { relayIdleMs: config.relayIdleMs } })) as [TestServer, TestServer];
    const clip = await synthesiseClip(config.clip);
    const stamps = new TransitClock();
    const owner = await signUp(nodeA.url, 'cascadeowner');
    caster = await PlainBroadcaster.start(nodeA.url, owner.token, clip, 'bench:cascade', { onSend: (d) => stamps.sent(d) });
    const id = caster.broadcastId as BroadcastId;
    const relays = () => nodeB.cluster!.relays.count;
    const pipes = () => nodeA.cluster!.pipesByNode().get('bench-b') ?? 0;
    await until('the broadcast is on air on A and its media arrives', async () => (await nodeA.live.onAir(id)?.media.mediaReceived()) === true, 15_000);

    // Time to first frame, cold edge vs warm edge vs origin.
    const joins: JoinSample[] = [];
    const closed: number[] = [];
    const join = async (repetition: number, where: JoinWhere) => {
      const before = { relaysBefore: relays(), pipesBefore: pipes() };
      const viewers = await PlainViewers.join(where === 'origin' ? nodeA.url : nodeB.url, id, 1, { lossRate: 0 });
      open.push(viewers);
      const got = () => viewers.stats()[0]!;
      await until('first packets', () => got().firstRtpAt !== null && got().firstVideoAt !== null, config.firstPacketTimeoutMs).catch(() => undefined);
      const s = got();
      const since = (t: number | null) => (t !== null && s.joinStartedAt !== null ? t - s.joinStartedAt : null);
      const sample: JoinSample = {
        repetition,
        where,
        joinAnswerMs: since(s.joinAnsweredAt),
        firstRtpMs: since(s.firstRtpAt),
        firstVideoMs: since(s.firstVideoAt),
        ...before,
        joinFailures: s.joinFailures,
      };
      joins.push(sample);
      // Let the join's last requests (the second consumer's resume) finish before the next one.
      await sleep(200);
      return sample;
    };
    for (let r = 0; r < config.repetitions; r += 1) {
      await until('B has no relay and A no pipe to B', () => relays() === 0 && pipes() === 0, 15_000);
      const cold = await join(r, 'cold-edge');
      const warm: JoinSample[] = [];
      for (let w = 0; w < config.warmJoins; w += 1) warm.push(await join(r, 'warm-edge'));
      const direct = await join(r, 'origin');
      log(
        `cascade: join ${r + 1}/${config.repetitions}: first RTP after ${cold.firstRtpMs} ms on a cold edge, ` +
          `${warm.map((x) => x.firstRtpMs).join(', ')} ms on the warm edge, ${direct.firstRtpMs} ms on the origin`,
      );
      for (const v of open.splice(0)) v.close();
      const t = performance.now();
      await until('B closes its idle relay and A the pipe', () => relays() === 0 && pipes() === 0, 15_000);
      closed.push(performance.now() - t);
    }
    const of = (where: JoinWhere, f: (j: JoinSample) => number | null) =>
      percentiles(joins.filter((j) => j.where === where).flatMap((j) => (f(j) === null ? [] : [f(j)!])));
    const ttffOf = (where: JoinWhere) => ({
      joinAnswer: of(where, (j) => j.joinAnswerMs),
      firstRtp: of(where, (j) => j.firstRtpMs),
      firstVideo: of(where, (j) => j.firstVideoMs),
    });

    // Transit: one viewer on each node, the same packets.
    const onA = await PlainViewers.join(nodeA.url, id, 1, { lossRate: 0, onRtp: (_, p) => stamps.received('origin', p) });
    open.push(onA);
    const onB = await PlainViewers.join(nodeB.url, id, 1, { lossRate: 0, onRtp: (_, p) => stamps.received('edge', p) });
    open.push(onB);
    await until('both transit viewers receive video', () => [onA, onB].every((v) => v.stats()[0]!.firstVideoAt !== null), config.firstPacketTimeoutMs);
    await sleep(config.transitWarmupMs);
    stamps.start();
    await sleep(config.transitMs);
    stamps.stop();
    // Packets still on their way.
    await sleep(500);
    const transit = stamps.result();
    log(`cascade: transit p50 ${transit.origin.all.p50} ms on the origin, ${transit.edge.all.p50} ms through the edge (${transit.sent} packets)`);

    return {
      config,
      joins,
      ttff: { coldEdge: ttffOf('cold-edge'), warmEdge: ttffOf('warm-edge'), origin: ttffOf('origin') },
      relayClosedMs: percentiles(closed),
      transit,
    };
  } finally {
    for (const v of open.splice(0)) v.close();
    if (caster) {
      await caster.stop().catch(() => undefined);
      await caster.close();
    }
    for (const node of nodes.reverse()) await node.stop().catch(() => undefined);
    await db?.drop();
    uninstallPlainWebRtc();
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}

/**
 * Matches the packets the broadcaster sends with those its viewers receive, by the last bytes
 * of the RTP payload, and times them on this process's monotonic clock.
 */
class TransitClock {
  #recording: { from: number; to: number | null } | null = null;
  #bytes = 0;
  /** The latest send of each payload (the clip loops: a payload comes again every loop). */
  readonly #bySignature = new Map<string, Sent>();
  readonly #window: Sent[] = [];
  #unmatched = 0;

  sent(datagram: Buffer): void {
    const at = performance.now();
    const p = rtpPayload(datagram);
    if (!p) return;
    const sent: Sent = { at, video: p.payloadType === VIDEO_PT, origin: null, edge: null };
    this.#bySignature.set(p.signature, sent);
    if (this.recording) {
      this.#window.push(sent);
      this.#bytes += datagram.length;
    }
  }

  get recording(): boolean {
    return this.#recording !== null && this.#recording.to === null;
  }

  /** Counts the packets sent from now on … */
  start(): void {
    this.#recording = { from: performance.now(), to: null };
  }

  /** … until now (those on their way still count when they arrive). */
  stop(): void {
    if (this.#recording) this.#recording.to = performance.now();
  }

  received(path: 'origin' | 'edge', packet: Buffer): void {
    const at = performance.now();
    const p = rtpPayload(packet);
    if (!p) return;
    const sent = this.#bySignature.get(p.signature);
    if (!sent) {
      if (this.recording) this.#unmatched += 1;
      return;
    }
    sent[path] ??= at - sent.at;
  }

  result(): ClusterResult['transit'] {
    const path = (name: 'origin' | 'edge'): TransitPath => {
      const got = this.#window.filter((s) => s[name] !== null);
      const ms = (xs: Sent[]) => xs.map((s) => s[name]!);
      return {
        all: percentiles(ms(got)),
        video: percentiles(ms(got.filter((s) => s.video))),
        audio: percentiles(ms(got.filter((s) => !s.video))),
        missing: this.#window.length - got.length,
      };
    };
    const both = this.#window.filter((s) => s.origin !== null && s.edge !== null);
    const seconds = this.#recording?.to ? (this.#recording.to - this.#recording.from) / 1000 : 0;
    return {
      sent: this.#window.length,
      sentPps: seconds > 0 ? round(this.#window.length / seconds, 1) : 0,
      sentKbps: seconds > 0 ? Math.round((this.#bytes * 8) / seconds / 1000) : 0,
      origin: path('origin'),
      edge: path('edge'),
      edgeMinusOrigin: percentiles(both.map((s) => round(s.edge! - s.origin!, 3))),
      unmatched: this.#unmatched,
    };
  }
}

interface Sent {
  at: number;
  video: boolean;
  /** Transit to each viewer, ms (null: not received). */
  origin: number | null;
  edge: number | null;
}

/** Bytes of payload that identify an RTP packet: the last ones (the VP8 payload descriptor at the start may be rewritten). */
const SIGNATURE_BYTES = 32;

/** The payload signature and payload type of an RTP datagram; null for RTCP and payloads too short to tell apart. */
export function rtpPayload(datagram: Buffer): { signature: string; payloadType: number } | null {
  if (datagram.length < 12 || datagram[0]! >> 6 !== 2) return null;
  // RTCP (RFC 5761: second byte 192–223).
  if (datagram[1]! >= 192 && datagram[1]! <= 223) return null;
  let start = 12 + (datagram[0]! & 0x0f) * 4;
  if (datagram[0]! & 0x10) {
    if (datagram.length < start + 4) return null;
    start += 4 + datagram.readUInt16BE(start + 2) * 4;
  }
  const end = datagram[0]! & 0x20 ? datagram.length - datagram[datagram.length - 1]! : datagram.length;
  if (end - start < SIGNATURE_BYTES + 8) return null;
  return { signature: datagram.toString('latin1', end - SIGNATURE_BYTES, end), payloadType: datagram[1]! & 0x7f };
}
