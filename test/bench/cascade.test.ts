import { describe, expect, it } from 'vitest';
import * as cascade from '../../bench/cascade/index.ts';
import { runBenchmark } from '../../bench/runBenchmark.ts';
import { rtpPayload } from '../../bench/cascade/cluster.ts';

/**
 * The cascade benchmark in smoke mode: 3 viewers, 3 pipes and 3 edge viewers, one 1 s window
 * each with nothing attached and with them; then two Spyglass nodes, one cold join on the
 * edge, one warm, one on the origin, and 1.5 s of transit; then two nodes with real WebRTC and
 * Chromium: the stamped camera live on A, 20 frames decoded by a viewer page on A and by one on B
 * at once. It must keep producing its numbers; no timing thresholds (CI runs this on 2 busy cores).
 */
describe('bench: cascade (smoke)', () => {
  it('measures pipes against viewers, and joins and transit through an edge node', { timeout: 180_000 }, async () => {
    const r = await runBenchmark('cascade', cascade, { smoke: true });
    expect(r.benchmark).toBe('cascade');
    const { viewers, pipes, edge } = r.cost;
    for (const arm of [viewers, pipes, edge]) {
      expect(arm.units).toBe(3);
      expect(arm.loaded).toHaveLength(1);
      expect(arm.loaded[0]!.flowing).toBe(3);
      expect(arm.loadedCores).toBeGreaterThanOrEqual(0);
      expect(arm.baselineCores).toBeGreaterThanOrEqual(0);
      expect(arm.perUnitCores).not.toBeNull();
      expect(arm.usPerPacketAllIn).toBeGreaterThanOrEqual(0);
      expect(arm.usPerPacket).not.toBeNull();
      expect(arm.ppsPerUnit).toBeGreaterThan(0);
      // The pipes' loss compares counters of two workers read at about the same time: it may come out a little below 0.
      expect(arm.loss).toBeGreaterThanOrEqual(arm.name === 'pipes' ? -1 : 0);
      expect(arm.loss).toBeLessThanOrEqual(1);
    }
    // Every pipe reached its edge: the edges' copies of the producers received packets (ppsPerUnit above).
    expect(pipes.loaded[0]!.received).toBeGreaterThan(0);
    expect(pipes.otherCores).toBeGreaterThanOrEqual(0);
    expect(viewers.mbpsPerUnit).toBeGreaterThan(0);

    const joins = r.cluster.joins;
    expect(joins.map((j) => j.where)).toEqual(['cold-edge', 'warm-edge', 'origin']);
    // Cold: no relay on B and no pipe from A before; warm: the relay and its one pipe were open.
    expect(joins[0]).toMatchObject({ relaysBefore: 0, pipesBefore: 0, joinFailures: 0 });
    expect(joins[1]).toMatchObject({ relaysBefore: 1, pipesBefore: 1, joinFailures: 0 });
    for (const j of joins) {
      expect(j.firstRtpMs).toBeGreaterThan(0);
      expect(j.firstVideoMs).toBeGreaterThan(0);
    }
    expect(r.cluster.relayClosedMs.count).toBe(1);
    const t = r.cluster.transit;
    expect(t.sent).toBeGreaterThan(0);
    for (const p of [t.origin, t.edge]) {
      expect(p.all.count).toBeGreaterThan(0);
      expect(p.video.count).toBeGreaterThan(0);
      expect(p.audio.count).toBeGreaterThan(0);
      expect(p.all.p50).toBeGreaterThan(0);
    }
    expect(t.edgeMinusOrigin.count).toBeGreaterThan(0);

    // Glass-to-glass: both viewers decoded every frame asked for, the one on B through B's relay and A's one pipe to B.
    const g = r.glass;
    expect(g).toMatchObject({ relaysOnB: 1, pipesAToB: 1 });
    for (const p of [g.oneNode, g.edge]) {
      expect(p.frames).toBe(r.config.glass.frames);
      expect(p.callbackMs.count).toBe(r.config.glass.frames);
      // A stamp is drawn before it is seen, and a wrong decode would be far off.
      expect(p.callbackMs.min).toBeGreaterThan(0);
      expect(p.callbackMs.max).toBeLessThan(10_000);
      expect(p.callbackMs.p95).toBeGreaterThanOrEqual(p.callbackMs.p50!);
      expect(p.pipeline?.framesDecoded).toBeGreaterThan(0);
    }
    expect(g.edgeVsOneNode.p50).toBeGreaterThan(0);
    expect(g.edgeVsOneNode.p95).toBeGreaterThan(0);

    expect(cascade.chart(r)).toMatch(/^<svg [^]*<\/svg>\n$/);
    expect(cascade.describe(r)).toHaveLength(9);
    expect(cascade.summary(r).cascade?.ttffColdEdgeMs).toBe(r.cluster.ttff.coldEdge.firstRtp.p50);
    expect(cascade.summary(r).cascade).toMatchObject({ glassOneNodeP95Ms: g.oneNode.callbackMs.p95, glassEdgeP95Ms: g.edge.callbackMs.p95, glassEdgeVsOneNodeP95: g.edgeVsOneNode.p95 });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});

describe('bench: cascade payload signatures', () => {
  it('skip the RTP header, its extension and padding, and RTCP', () => {
    const payload = Buffer.from(Array.from({ length: 60 }, (_, i) => i));
    const header = Buffer.from([0x90, 101, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 1, 2, 3, 4]);
    const plain = Buffer.concat([Buffer.from([0x80, 96, 0, 9, 0, 0, 0, 5, 0, 0, 0, 7]), payload]);
    const padded = Buffer.concat([header, payload, Buffer.from([0, 0, 3])]);
    padded[0] = 0xb0;
    expect(rtpPayload(plain)).toEqual({ signature: payload.subarray(28).toString('latin1'), payloadType: 96 });
    expect(rtpPayload(padded)).toEqual({ signature: payload.subarray(28).toString('latin1'), payloadType: 101 });
    expect(rtpPayload(Buffer.from([0x80, 200, 0, 6, ...Array(24).fill(0), ...payload]))).toBeNull();
    expect(rtpPayload(plain.subarray(0, 40))).toBeNull();
  });
});
