import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { QUEUES } from '../../common/jobs/queues.ts';
import { PlainBroadcaster, PlainViewers, type ViewerStats } from '../../testkit/plainPeers.ts';
import { signUp } from '../../testkit/server.ts';
import { startSupervisor, type Supervisor } from '../../testkit/supervisor.ts';
import { synthesiseClip, type ClipSpec } from '../../testkit/media.ts';
import { processRssBytes, round } from '../lib/proc.ts';
import { chartDocument, type Series } from '../lib/svg.ts';
import type { BenchBody, BenchResult, LatestFigures, RunOptions } from '../types.ts';
import { fdKinds, openFds, spyglassProcesses } from '../../testkit/procs.ts';

/**
 * The soak: one long broadcast, recorded, to many viewers that send RTCP feedback as browsers
 * do, on a real `npm start` (scripts/start.ts: the signalling process with its mediasoup
 * workers, the workers process with its ffmpeg recorder). Every 10 s: the RSS and open file
 * descriptors of every process, and the BullMQ queue counts. At the end: the RSS slope of
 * each process after the warm-up (least squares, MiB/hour), the change in open fds, and
 * whether the queues drained once the broadcast ended and its replay was made.
 *
 * Peers (testkit/plainPeers.ts, plainWebRtc.ts): the broadcaster and the viewers go
 * through the real socket.io protocol; only ICE/DTLS/SRTP are replaced by plain RTP (the
 * signalling process's WebRtcTransports are PlainTransports on the same routers). The media
 * is light on purpose (2 shared cores): 320×180 VP8 at 15 fps, 150 kbit/s, Opus 24 kbit/s.
 * See docs/benchmarks.md.
 */

export interface SoakConfig {
  minutes: number;
  viewers: number;
  sampleEveryS: number;
  /** Samples before this are left out of the slopes (memory grows while caches fill). */
  warmupMinutes: number;
  lossRate: number;
  clip: ClipSpec;
}

export interface SoakSample {
  /** Seconds since the viewers joined. */
  t: number;
  /** By process role (signaling, workers, mediasoup-0…, ffmpeg-0…): pid, RSS (MiB), open fds. */
  processes: Record<string, { pid: number; rssMiB: number | null; fds: number | null }>;
  queues: Record<string, Record<string, number>>;
  viewers: { receiving: number; rtp: number; nackedSeqs: number; recovered: number };
}

export interface ProcessTrend {
  role: string;
  /** Distinct pids seen (1 unless the process was replaced). */
  pids: number[];
  samples: number;
  rssFirstMiB: number | null;
  rssLastMiB: number | null;
  /** Least-squares slope of RSS over the samples after the warm-up, MiB/hour (null: fewer than 3 samples). */
  rssSlopeMiBPerHour: number | null;
  fdsFirst: number | null;
  fdsLast: number | null;
  fdsMax: number | null;
  /** fdsLast − fdsFirst, after the warm-up. */
  fdGrowth: number | null;
  fdKindsAtEnd: Record<string, number> | null;
}

export interface SoakResult extends BenchResult<'soak', SoakConfig> {
  samples: SoakSample[];
  trends: ProcessTrend[];
  broadcast: { id: string; liveSeconds: number; resumes: number };
  replay: { state: string; durationMs: number | null; readyAfterMs: number | null };
  /** Queue counts once the replay was ready and the record job finished; drained: nothing waiting, active or delayed. */
  queuesAtEnd: Record<string, Record<string, number>>;
  queuesDrained: boolean;
  viewers: {
    count: number;
    /** Per viewer: longest time without RTP (s), median and max. */
    maxGapS: { median: number | null; max: number | null };
    rtpPackets: number;
    nackedSeqs: number;
    recovered: number;
    rr: number;
    remb: number;
    pli: number;
    joinFailures: number;
  };
}

/** 320×180 VP8 15 fps 150 kbit/s, a keyframe every 2 s, Opus 24 kbit/s: light on purpose. */
export const SOAK_CLIP: ClipSpec = { seconds: 4, size: '320x180', fps: 15, videoKbps: 150, gop: 30, audioKbps: 24 };

function soakConfig(opts: RunOptions): SoakConfig {
  const minutes = opts.minutes ?? (opts.smoke ? 1 / 3 : 60);
  return {
    minutes,
    viewers: opts.smoke ? 5 : Number(process.env.BENCH_SOAK_VIEWERS) || 100,
    sampleEveryS: opts.smoke ? 2 : 10,
    warmupMinutes: Math.min(5, minutes / 4),
    lossRate: 0.01,
    clip: SOAK_CLIP,
  };
}

const QUEUE_NAMES = [QUEUES.record, QUEUES.finalize, QUEUES.results, QUEUES.archive] as const;

async function queueCounts(queues: Queue[]): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const q of queues) out[q.name] = await q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children');
  return out;
}

function drained(counts: Record<string, Record<string, number>>): boolean {
  return Object.values(counts).every((c) => (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) === 0);
}

/** Least-squares slope of y over x. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

export async function run(opts: RunOptions): Promise<BenchBody<SoakResult>> {
  const log = opts.log ?? (() => undefined);
  const config = soakConfig(opts);
  log(`soak: ${round(config.minutes, 2)} min, ${config.viewers} viewers, ${config.clip.size} ${config.clip.fps} fps ${config.clip.videoKbps} kbit/s, recording on`);
  const clip = await synthesiseClip(config.clip);
  let sup: Supervisor | undefined;
  let caster: PlainBroadcaster | undefined;
  let viewers: PlainViewers | undefined;
  const queues: Queue[] = [];
  try {
    sup = await startSupervisor({ SPYGLASS_MEDIASOUP_WORKERS: '2' });
    log(`soak: npm start (pid ${sup.pid}) at ${sup.url}`);
    for (const name of QUEUE_NAMES) queues.push(new Queue(name, { connection: { url: sup.redisUrl }, prefix: sup.queuePrefix }));
    const auth = await signUp(sup.url, `soak${Date.now().toString(36)}`);
    caster = await PlainBroadcaster.start(sup.url, auth.token, clip, 'Soak');
    viewers = await PlainViewers.join(sup.url, caster.broadcastId, config.viewers, { lossRate: config.lossRate });
    log(`soak: broadcast ${caster.broadcastId} live, ${viewers.count} viewers joined`);

    const samples: SoakSample[] = [];
    const seen = new Map<string, Set<number>>();
    const joinedAt = Date.now();
    const endAt = joinedAt + config.minutes * 60_000;
    const sample = async () => {
      const roles = spyglassProcesses(sup!.pid);
      const processes: SoakSample['processes'] = {};
      for (const [role, pid] of roles) {
        const rss = processRssBytes(pid);
        processes[role] = { pid, rssMiB: rss === null ? null : round(rss / (1 << 20), 1), fds: openFds(pid) };
        let pids = seen.get(role);
        if (!pids) seen.set(role, (pids = new Set()));
        pids.add(pid);
      }
      const vs = viewers!.stats();
      const now = Date.now();
      samples.push({
        t: round((now - joinedAt) / 1000, 1),
        processes,
        queues: await queueCounts(queues),
        viewers: {
          receiving: vs.filter((v) => v.lastRtpAt !== null && now - v.lastRtpAt < 2000).length,
          rtp: vs.reduce((s, v) => s + v.rtp, 0),
          nackedSeqs: vs.reduce((s, v) => s + v.rtcp.nackedSeqs, 0),
          recovered: vs.reduce((s, v) => s + v.loss.recovered, 0),
        },
      });
    };
    let nextLog = joinedAt + 60_000;
    while (Date.now() < endAt) {
      await sample();
      if (Date.now() >= nextLog) {
        const s = samples.at(-1)!;
        const rss = Object.entries(s.processes).map(([r, p]) => `${r} ${p.rssMiB} MiB/${p.fds} fds`).join(', ');
        log(`soak: ${Math.round(s.t / 60)} min: ${s.viewers.receiving}/${config.viewers} viewers receiving; ${rss}`);
        nextLog += 60_000;
      }
      await sleep(Math.max(0, Math.min(config.sampleEveryS * 1000, endAt - Date.now())));
    }
    await sample();
    const fdKindsAtEnd = new Map([...spyglassProcesses(sup.pid)].map(([role, pid]) => [role, fdKinds(pid)] as const));
    const viewerStats = viewers.stats();

    // The end: the replay is made, the queues drain.
    await caster.stop();
    const stoppedAt = Date.now();
    const liveSeconds = round((caster.endedAt! - caster.startedAt) / 1000, 1);
    let replay: { state: string; durationMs: number | null } = { state: 'unknown', durationMs: null };
    let readyAfterMs: number | null = null;
    const deadline = stoppedAt + 10 * 60_000 + config.minutes * 60_000;
    while (Date.now() < deadline) {
      const res = await fetch(`${sup.url}/api/replays/${caster.broadcastId}`, { headers: { authorization: `Bearer ${auth.token}` } });
      if (res.ok) replay = (await res.json()) as typeof replay;
      if (replay.state === 'ready' || replay.state === 'failed') {
        readyAfterMs = Date.now() - stoppedAt;
        break;
      }
      await sleep(1000);
    }
    let queuesAtEnd = await queueCounts(queues);
    const drainBy = Date.now() + 60_000;
    while (!drained(queuesAtEnd) && Date.now() < drainBy) {
      await sleep(1000);
      queuesAtEnd = await queueCounts(queues);
    }
    log(`soak: replay ${replay.state} ${readyAfterMs ?? '?'} ms after the end; queues ${drained(queuesAtEnd) ? 'drained' : 'NOT drained'}`);

    const warmupS = config.warmupMinutes * 60;
    const trends: ProcessTrend[] = [...seen.keys()].map((role) => {
      const series = samples.filter((s) => s.processes[role]);
      const after = series.filter((s) => s.t >= warmupS);
      const rssPts = after.filter((s) => s.processes[role]!.rssMiB !== null).map((s) => [s.t / 3600, s.processes[role]!.rssMiB!] as const);
      const fds = after.map((s) => s.processes[role]!.fds).filter((n): n is number => n !== null);
      const sl = slope(rssPts);
      return {
        role,
        pids: [...seen.get(role)!],
        samples: series.length,
        rssFirstMiB: after[0]?.processes[role]?.rssMiB ?? null,
        rssLastMiB: after.at(-1)?.processes[role]?.rssMiB ?? null,
        // + 0: no -0 in the JSON.
        rssSlopeMiBPerHour: sl === null ? null : round(sl, 2) + 0,
        fdsFirst: fds[0] ?? null,
        fdsLast: fds.at(-1) ?? null,
        fdsMax: fds.length > 0 ? Math.max(...fds) : null,
        fdGrowth: fds.length > 0 ? fds.at(-1)! - fds[0]! : null,
        fdKindsAtEnd: fdKindsAtEnd.get(role) ?? null,
      };
    });
    const gaps = viewerStats.map((v) => v.maxGapMs / 1000).sort((a, b) => a - b);
    const sum = (f: (v: ViewerStats) => number) => viewerStats.reduce((s, v) => s + f(v), 0);
    return {
      config,
      samples,
      trends,
      broadcast: { id: caster.broadcastId, liveSeconds, resumes: caster.resumes },
      replay: { state: replay.state, durationMs: replay.durationMs, readyAfterMs },
      queuesAtEnd,
      queuesDrained: drained(queuesAtEnd),
      viewers: {
        count: viewerStats.length,
        maxGapS: { median: gaps.length ? round(gaps[Math.floor(gaps.length / 2)]!, 2) : null, max: gaps.length ? round(gaps.at(-1)!, 2) : null },
        rtpPackets: sum((v) => v.rtp),
        nackedSeqs: sum((v) => v.rtcp.nackedSeqs),
        recovered: sum((v) => v.loss.recovered),
        rr: sum((v) => v.rtcp.rr),
        remb: sum((v) => v.rtcp.remb),
        pli: sum((v) => v.rtcp.pli),
        joinFailures: sum((v) => v.joinFailures),
      },
    };
  } finally {
    viewers?.close();
    await caster?.close();
    await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
    await sup?.stop();
  }
}

export function summary(_r: SoakResult): Partial<LatestFigures> {
  // The soak runs on request only (npm run bench:soak), never in `npm run bench`: no latest.json keys.
  return {};
}

export function describe(r: SoakResult): string[] {
  const lines = [
    `${round(r.config.minutes, 2)} min broadcast (${r.broadcast.liveSeconds} s live, ${r.broadcast.resumes} resumes) to ${r.viewers.count} viewers, recording on; ` +
      `replay ${r.replay.state} (${r.replay.durationMs ?? '?'} ms long) ${r.replay.readyAfterMs ?? '?'} ms after the end`,
    `viewers: ${r.viewers.rtpPackets} RTP packets; longest gap per viewer median ${r.viewers.maxGapS.median} s, max ${r.viewers.maxGapS.max} s; ` +
      `NACKed ${r.viewers.nackedSeqs} packets (emulated ${r.config.lossRate * 100} % loss), ${r.viewers.recovered} recovered by RTX; ${r.viewers.rr} RR, ${r.viewers.remb} REMB, ${r.viewers.pli} PLI sent; ${r.viewers.joinFailures} failed joins`,
    ...r.trends.map(
      (t) =>
        `${t.role}${t.pids.length > 1 ? ` (${t.pids.length} pids: replaced)` : ''}: RSS ${t.rssFirstMiB} → ${t.rssLastMiB} MiB after the ${round(r.config.warmupMinutes, 2)}-min warm-up, slope ${t.rssSlopeMiBPerHour ?? '?'} MiB/h; ` +
        `fds ${t.fdsFirst} → ${t.fdsLast} (max ${t.fdsMax}, growth ${t.fdGrowth})`,
    ),
    `queues at the end: ${r.queuesDrained ? 'drained' : 'NOT drained'} (${Object.entries(r.queuesAtEnd).map(([q, c]) => `${q}: ${c.completed ?? 0} completed, ${c.failed ?? 0} failed, ${(c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0)} pending`).join('; ')})`,
  ];
  return lines;
}

export function chart(r: SoakResult): string {
  const roles = r.trends.map((t) => t.role);
  const series = (f: (s: SoakSample, role: string) => number | null): Series[] =>
    roles.map((role) => ({
      name: role,
      points: r.samples.flatMap((s) => {
        const y = s.processes[role] ? f(s, role) : null;
        return y === null ? [] : [[s.t / 60, y] as const];
      }),
    }));
  return chartDocument(
    `Soak: ${round(r.config.minutes, 2)} min broadcast to ${r.config.viewers} viewers, recording on`,
    `${r.startedAt} · ${r.machine.cores} × ${r.machine.cpuModel} · ` +
      r.trends.map((t) => `${t.role} ${t.rssSlopeMiBPerHour ?? '?'} MiB/h`).join(' · '),
    [
      { title: 'Resident memory', xLabel: 'minutes', yLabel: 'MiB', series: series((s, role) => s.processes[role]!.rssMiB) },
      { title: 'Open file descriptors', xLabel: 'minutes', yLabel: 'fds', series: series((s, role) => s.processes[role]!.fds) },
      {
        title: 'Viewers receiving (RTP within 2 s)',
        xLabel: 'minutes',
        yLabel: 'viewers',
        series: [{ name: 'receiving', points: r.samples.map((s) => [s.t / 60, s.viewers.receiving] as const) }],
      },
      {
        title: 'Queues: jobs waiting + active + delayed',
        xLabel: 'minutes',
        yLabel: 'jobs',
        series: Object.keys(r.samples[0]?.queues ?? {}).map((q) => ({
          name: q,
          points: r.samples.map((s) => [s.t / 60, (s.queues[q]?.waiting ?? 0) + (s.queues[q]?.active ?? 0) + (s.queues[q]?.delayed ?? 0)] as const),
        })),
      },
    ],
  );
}
