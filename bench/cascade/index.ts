import { FULL_RUN_WINDOWS } from '../lib/flow.ts';
import { describePath, describePipeline, latencyCdf } from '../lib/glass.ts';
import { FULL_CLIP, SMOKE_CLIP, type ClipSpec } from '../../testkit/media.ts';
import { round } from '../lib/proc.ts';
import type { Percentiles } from '../lib/stats.ts';
import { chartDocument } from '../lib/svg.ts';
import type { BenchBody, BenchResult, LatestFigures, RunOptions } from '../types.ts';
import { measureCluster, type ClusterConfig, type ClusterResult, type JoinWhere } from './cluster.ts';
import { measureGlass, type GlassConfig, type GlassResult } from './glass.ts';
import { measurePipeCost, type ArmResult, type PipeCostConfig, type PipeCostResult } from './pipes.ts';

/**
 * Many hosts (docs/scale.md): what relaying a broadcast from its origin node to an edge node
 * costs and adds, all measured in one run on this machine.
 *
 * 1. The origin's CPU for one pipe to an edge against one viewer, and 2. viewers per core of
 *    an edge worker fed by a pipe against the origin's: mediasoup workers, Spyglass's routers
 *    and pipe classes, the synthetic broadcaster, plain SRTP viewers (pipes.ts).
 * 3. Time to first frame on an edge node with no relay yet, on one with the relay open, and
 *    on the origin node, and 4. RTP transit through origin → edge against the origin alone:
 *    two real signalling nodes on one Redis and PostgreSQL, synthetic peers (cluster.ts).
 * 5. Glass-to-glass in real Chromium through origin → edge against one node: two such nodes
 *    with real WebRTC, Spyglass's own pages, the latency benchmark's stamped camera; one
 *    viewer page on the origin node and one on the edge node at the same time (glass.ts).
 *
 * See docs/benchmarks.md ("Cascade").
 */

export interface CascadeConfig {
  pipes: PipeCostConfig;
  cluster: ClusterConfig;
  glass: GlassConfig;
}

/**
 * The clip of the two-node part: 720p30 VP8 at 900 kbit/s like FULL_CLIP, but every frame a
 * key frame. mediasoup starts a new consumer (and a pipe) at a key frame and asks the sender
 * for one; ffmpeg replaying a file cannot answer, so with a key frame every 2 s the first
 * frame would wait 0–2 s at random. All key frames stand for a broadcaster that answers at
 * once (a browser answers within a frame or two).
 */
export const CLUSTER_CLIP: ClipSpec = { ...FULL_CLIP, gop: 1 };
const CLUSTER_SMOKE_CLIP: ClipSpec = { ...SMOKE_CLIP, gop: 1 };

export function cascadeConfig(smoke: boolean): CascadeConfig {
  const ports = { rtcMinPort: 40000, rtcMaxPort: 49999 };
  if (smoke) {
    return {
      pipes: { units: 3, baselineWindows: 1, windows: 1, windowMs: 1000, minWarmupMs: 200, settleMs: 300, flowTimeoutMs: 10_000, clip: SMOKE_CLIP, attachConcurrency: 25, pin: false, ...ports },
      cluster: { clip: CLUSTER_SMOKE_CLIP, repetitions: 1, warmJoins: 1, relayIdleMs: 300, firstPacketTimeoutMs: 10_000, transitWarmupMs: 300, transitMs: 1500 },
      glass: { frames: 20, warmupMs: 500, collectTimeoutMs: 20_000, camera: { width: 640, height: 360, fps: 30 } },
    };
  }
  return {
    pipes: {
      // BENCH_CASCADE_UNITS=80 attaches 80 viewers / pipes per arm.
      units: Number(process.env.BENCH_CASCADE_UNITS) || 50,
      baselineWindows: 2,
      ...FULL_RUN_WINDOWS,
      clip: FULL_CLIP,
      attachConcurrency: 25,
      pin: !process.env.BENCH_NO_PIN,
      ...ports,
    },
    cluster: { clip: CLUSTER_CLIP, repetitions: 10, warmJoins: 2, relayIdleMs: 500, firstPacketTimeoutMs: 10_000, transitWarmupMs: 2000, transitMs: 20_000 },
    // As bench:latency's full run: 600 frames (20 s at 30 fps) per viewer, both at once.
    glass: { frames: 600, warmupMs: 4000, collectTimeoutMs: 60_000, camera: { width: 1280, height: 720, fps: 30 } },
  };
}

export interface CascadeResult extends BenchResult<'cascade', CascadeConfig> {
  cost: PipeCostResult;
  cluster: ClusterResult;
  glass: GlassResult;
}

export async function run(opts: RunOptions): Promise<BenchBody<CascadeResult>> {
  const log = opts.log ?? (() => undefined);
  const config = cascadeConfig(opts.smoke);
  log(
    `cascade: ${opts.smoke ? 'smoke' : 'full'} run: ${config.pipes.units} viewers / pipes per arm, ${config.cluster.repetitions} cold joins, ` +
      `${config.glass.frames} glass-to-glass frames per viewer`,
  );
  const cost = await measurePipeCost(config.pipes, log);
  const cluster = await measureCluster(config.cluster, log);
  const glass = await measureGlass(config.glass, log);
  return {
    config,
    cost,
    cluster,
    glass,
  };
}

// ------------------------------------------------------------------ output --

export function summary(r: CascadeResult): Partial<LatestFigures> {
  const { ttff, transit } = r.cluster;
  return {
    cascade: {
      pipeVsViewerCpu: r.cost.pipeVsViewer,
      edgeViewersPerCore: r.cost.edgeViewersPerCore,
      edgeVsOriginViewersPerCore: r.cost.edgeVsOrigin,
      ttffColdEdgeMs: ttff.coldEdge.firstRtp.p50,
      ttffWarmEdgeMs: ttff.warmEdge.firstRtp.p50,
      ttffOriginMs: ttff.origin.firstRtp.p50,
      transitOriginP50Ms: transit.origin.all.p50,
      transitOriginP95Ms: transit.origin.all.p95,
      transitEdgeP50Ms: transit.edge.all.p50,
      transitEdgeP95Ms: transit.edge.all.p95,
      glassOneNodeP50Ms: r.glass.oneNode.callbackMs.p50,
      glassOneNodeP95Ms: r.glass.oneNode.callbackMs.p95,
      glassEdgeP50Ms: r.glass.edge.callbackMs.p50,
      glassEdgeP95Ms: r.glass.edge.callbackMs.p95,
      glassEdgeVsOneNodeP50: r.glass.edgeVsOneNode.p50,
      glassEdgeVsOneNodeP95: r.glass.edgeVsOneNode.p95,
    },
  };
}

const mcores = (x: number | null) => (x === null ? 'n/a' : `${round(x * 1000, 2)} mcores`);
const ms = (x: number | null) => (x === null ? 'n/a' : `${x} ms`);
const us = (x: number | null) => (x === null ? 'n/a' : `${x} µs`);

export function describe(r: CascadeResult): string[] {
  const c = r.cost;
  const arm = (a: ArmResult) =>
    `${a.baselineCores ?? 'n/a'} → ${a.loadedCores ?? 'n/a'} cores with ${a.units}, loss ${a.loss === null ? 'n/a' : `${round(a.loss * 100, 2)} %`}` +
    (a.saturated ? ', SATURATED' : '');
  const t = r.cluster.ttff;
  const joins = (x: ClusterResult['ttff']['origin']) =>
    `${ms(x.firstRtp.p50)} (join answered ${ms(x.joinAnswer.p50)}, first video ${ms(x.firstVideo.p50)}, p95 ${ms(x.firstRtp.p95)}, n ${x.firstRtp.count})`;
  const tr = r.cluster.transit;
  const g = r.glass;
  const path = (p: ClusterResult['transit']['origin']) => `p50 ${ms(p.all.p50)}, p95 ${ms(p.all.p95)}, p99 ${ms(p.all.p99)} (${p.missing} missing)`;
  return [
    `Origin worker CPU per viewer ${mcores(c.viewers.perUnitCores)}, per pipe to an edge ${mcores(c.pipes.perUnitCores)}: ` +
      `pipe ÷ viewer ${c.pipeVsViewer ?? 'n/a'}; per packet ${us(c.viewers.usPerPacket)} and ${us(c.pipes.usPerPacket)}: ${c.pipeVsViewerPerPacket ?? 'n/a'} ` +
      `(medians of ${c.config.windows} windows; viewers ${arm(c.viewers)}; pipes ${arm(c.pipes)}, the edges' worker ${c.pipes.otherCores ?? 'n/a'} cores)`,
    `Viewers per core: ${c.edgeViewersPerCore ?? 'n/a'} on an edge worker fed by one pipe, ${c.originViewersPerCore ?? 'n/a'} on the origin's: ` +
      `edge ÷ origin ${c.edgeVsOrigin ?? 'n/a'}; all-in per packet ${us(c.edge.usPerPacketAllIn)} and ${us(c.viewers.usPerPacketAllIn)}: ${c.edgeVsOriginPerPacket ?? 'n/a'} ` +
      `(edge ${arm(c.edge)}; per viewer ${c.viewers.ppsPerUnit ?? 'n/a'} packets/s, ${c.viewers.mbpsPerUnit ?? 'n/a'} Mbit/s on the origin, ` +
      `${c.edge.ppsPerUnit ?? 'n/a'} packets/s on the edge)`,
    `Join → first RTP packet, medians: ${joins(t.coldEdge)} on an edge with no relay yet, ${joins(t.warmEdge)} on an edge with the relay open, ` +
      `${joins(t.origin)} on the origin node`,
    `RTP transit sender → viewer (${tr.sent} packets, ${tr.sentKbps} kbit/s, loopback): origin ${path(tr.origin)}; through origin → edge ${path(tr.edge)}; ` +
      `edge − origin per packet p50 ${ms(tr.edgeMinusOrigin.p50)}, p95 ${ms(tr.edgeMinusOrigin.p95)}`,
    `Glass-to-glass in Chromium (${g.config.camera.width}×${g.config.camera.height}@${g.config.camera.fps} stamped canvas → presented frame, both viewers at once, loopback): ` +
      `one node p50 ${ms(g.oneNode.callbackMs.p50)}, p95 ${ms(g.oneNode.callbackMs.p95)}; origin → edge p50 ${ms(g.edge.callbackMs.p50)}, p95 ${ms(g.edge.callbackMs.p95)}; ` +
      `edge ÷ one node p50 ${g.edgeVsOneNode.p50 ?? 'n/a'}, p95 ${g.edgeVsOneNode.p95 ?? 'n/a'} (edge − one node ${ms(g.edgeMinusOneNode.p50)}, ${ms(g.edgeMinusOneNode.p95)}; ` +
      `B's relays ${g.relaysOnB}, A's pipes to B ${g.pipesAToB})`,
    describePath(g.oneNode, 'Glass-to-glass, viewer on the origin node'),
    describePath(g.edge, 'Glass-to-glass, viewer on the edge node'),
    describePipeline(g.oneNode, 'origin-node viewer'),
    describePipeline(g.edge, 'edge viewer'),
  ];
}

export function chart(r: CascadeResult): string {
  const c = r.cost;
  const line = (a: ArmResult, name: string) => ({
    name,
    points: a.baselineCores === null || a.loadedCores === null ? [] : ([[0, a.baselineCores], [a.units, a.loadedCores]] as const),
  });
  const joinSeries = (where: JoinWhere, name: string) => ({
    name,
    style: 'dots' as const,
    points: r.cluster.joins.flatMap((j, i) => (j.where === where && j.firstRtpMs !== null ? [[i + 1, j.firstRtpMs] as const] : [])),
  });
  const tr = r.cluster.transit;
  const quantiles = (p: Percentiles) =>
    ([['p50', p.p50], ['p95', p.p95], ['p99', p.p99]] as const).flatMap(([, y], i) => (y === null ? [] : [[[50, 95, 99][i]!, y] as const]));
  const m = r.machine;
  return chartDocument(
    'Cascade: origin → edge over a pipe, against one node',
    `${r.startedAt} · ${m.cores} × ${m.cpuModel} · pipe ÷ viewer (origin CPU) ${c.pipeVsViewer ?? 'n/a'} · edge ÷ origin viewers per core ${c.edgeVsOrigin ?? 'n/a'} · ` +
      `glass-to-glass p95 edge ÷ one node ${r.glass.edgeVsOneNode.p95 ?? 'n/a'}`,
    [
      {
        title: 'Measured worker CPU, nothing attached → K',
        xLabel: 'viewers or pipes attached',
        yLabel: 'cores',
        series: [line(c.viewers, 'origin, viewers'), line(c.pipes, 'origin, pipes'), line(c.edge, 'edge, viewers')],
      },
      {
        title: 'Join → first RTP packet',
        xLabel: 'join (in order)',
        yLabel: 'ms',
        series: [joinSeries('cold-edge', 'edge, no relay'), joinSeries('warm-edge', 'edge, relay open'), joinSeries('origin', 'origin node')],
      },
      {
        title: 'RTP transit, sender → viewer',
        xLabel: 'percentile',
        yLabel: 'ms',
        series: [
          { name: 'origin node', points: quantiles(tr.origin.all) },
          { name: 'origin → edge', points: quantiles(tr.edge.all) },
        ],
      },
      {
        title: 'Glass-to-glass in Chromium, distribution',
        xLabel: 'stamp age at the viewer (ms)',
        yLabel: 'frames at or below (%)',
        series: [
          { name: 'origin node', points: latencyCdf(r.glass.oneNode) },
          { name: 'origin → edge', points: latencyCdf(r.glass.edge) },
        ],
        hLines: [{ y: 95, label: 'p95' }],
      },
    ],
  );
}
