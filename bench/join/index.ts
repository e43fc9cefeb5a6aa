import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { io, type Socket } from 'socket.io-client';
import type { Ack } from '../../common/protocol/errors.ts';
import type { AuthResponse, ClientToServerEvents, RequestInput, RequestName, Responses, ServerToClientEvents } from '../../common/protocol/events.ts';
import type { RtpParameters } from '../../common/protocol/media.ts';
import { startChild, type ChildHandle } from '../lib/child.ts';
import { FULL_CLIP, SMOKE_CLIP, startRtpSender, synthesiseClip, type RtpEndpoint, type RtpSender } from '../../testkit/media.ts';
import { CpuWindow, round, type CpuReading } from '../lib/proc.ts';
import { distribution, type Distribution } from '../lib/stats.ts';
import { chartDocument } from '../lib/svg.ts';
import type { BenchBody, BenchResult, LatestFigures, RunOptions } from '../types.ts';
import type { HeapReading, MonitorReport, ServerReady, ServerRequest } from './server.child.ts';

/**
 * Join storm: N socket.io viewers join one live broadcast within a few seconds, against the
 * real signalling server (own process, one mediasoup worker per core, recording off). Measures
 * the `broadcast:join` ack latency, and whether the broadcast keeps flowing meanwhile (the
 * synthetic broadcaster's producers keep receiving packets). Then the server's Node memory per
 * viewer: its heap after a full collection before the storm, after it, and after more viewers
 * joined as the web app's do (the join carrying their receive transport and paused consumers),
 * then again after a steady minute. See docs/benchmarks.md.
 */

export interface JoinConfig {
  viewers: number;
  /** Joins start evenly spread over this long. */
  spreadMs: number;
  /** Then a harsher burst into the same broadcast: this many more viewers over `burstSpreadMs` (not a target, headroom). */
  burstViewers: number;
  burstSpreadMs: number;
  numWorkers: number;
  targetP99Ms: number;
  /** Per-client limit for connecting and for the ack. */
  clientTimeoutMs: number;
  /** Viewers that then join as the web app does (transport and consumers in the join), for the memory per watching viewer. */
  mediaViewers: number;
  /** How long the memory is watched at steady state after they joined. */
  steadyMs: number;
  /** Node heap per watching viewer (issue 12). */
  targetHeapPerViewerKiB: number;
}

export function joinConfig(smoke: boolean): JoinConfig {
  return smoke
    ? { viewers: 5, spreadMs: 1000, burstViewers: 5, burstSpreadMs: 200, numWorkers: 1, targetP99Ms: 200, clientTimeoutMs: 15_000, mediaViewers: 3, steadyMs: 500, targetHeapPerViewerKiB: 50 }
    : {
        viewers: 500,
        spreadMs: 10_000,
        burstViewers: 500,
        burstSpreadMs: 1000,
        numWorkers: os.availableParallelism(),
        targetP99Ms: 200,
        clientTimeoutMs: 20_000,
        mediaViewers: 200,
        steadyMs: 60_000,
        targetHeapPerViewerKiB: 50,
      };
}

export interface JoinSample {
  /** When this client started connecting, ms after the storm began. */
  startMs: number;
  connectMs: number | null;
  /** From emitting `broadcast:join` to its ack. */
  joinAckMs: number | null;
  error: string | null;
}

export interface JoinResult extends BenchResult<'join', JoinConfig> {
  joined: number;
  failed: number;
  errors: string[];
  joinAckMs: Distribution;
  connectMs: Distribution;
  /** From the first client starting to the last ack. */
  stormMs: number;
  /** The burst that followed (same broadcast, on top of the storm's viewers). */
  burst: { joined: number; failed: number; joinAckMs: Distribution; connectMs: Distribution; ms: number };
  /** The server's own count at the end, and its edge routers. */
  serverViewers: number | null;
  serverEdges: number | null;
  ingest: {
    /** Producer packets per second before the storm (the broadcaster's nominal rate). */
    ppsBefore: number | null;
    /** … and during the storm and the burst. */
    ppsDuring: number | null;
    /** ppsDuring ÷ ppsBefore. */
    ratio: number | null;
    /** Longest stretch without new producer packets during the storm and the burst (sampled every ~100 ms). */
    maxStallMs: number | null;
    /** Worker round trip of the producer stats request, during the storm. */
    statsRpcMs: Distribution;
    /** Packets the producers received from the first sample to the last (before, during and just after the storm). */
    packetsMonitored: number;
  };
  server: {
    eventLoopDelayMs: MonitorReport['eventLoopDelayMs'];
    /** GET /healthz round trips during the storm and the burst. */
    healthzMs: Distribution;
    cpu: CpuReading | null;
  };
  /**
   * The server's Node memory (after a full collection, KiB) per viewer. `joinedKiB`: (after the
   * storm and burst − before) ÷ their viewers (socket.io connection and join, no media).
   * `watchingKiB`: (after the media viewers joined − after the storm) ÷ media viewers (also the
   * receive transport and two consumers). `steadyDriftKiB`: how much the heap moved over
   * `steadyMs` afterwards, per viewer (all of them). External memory (Buffers) beside each.
   */
  memory: {
    readings: { before: HeapReading; afterStorm: HeapReading; afterMedia: HeapReading; steady: HeapReading };
    mediaJoined: number;
    mediaErrors: string[];
    joinedKiB: { heap: number; external: number };
    watchingKiB: { heap: number; external: number };
    steadyDriftKiB: number;
    targetMet: boolean;
  };
  /** For the chart: per-client points and the ingest rate over time (s since the storm began). */
  timeline: { joins: Array<[number, number]>; burstJoins: Array<[number, number]>; ingestPps: Array<[number, number]> };
  targetMet: boolean | null;
}

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const videoRtpParameters: RtpParameters = {
  mid: '0',
  codecs: [
    {
      mimeType: 'video/VP8',
      payloadType: 96,
      clockRate: 90000,
      rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'transport-cc' }],
    },
  ],
  encodings: [{ ssrc: 3_000_001 }],
  rtcp: { cname: 'bench' },
};

const audioRtpParameters: RtpParameters = {
  mid: '1',
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } }],
  encodings: [{ ssrc: 3_000_002 }],
  rtcp: { cname: 'bench' },
};

export async function run(opts: RunOptions): Promise<BenchBody<JoinResult>> {
  const log = opts.log ?? (() => undefined);
  const config = joinConfig(opts.smoke);
  log(`join: ${opts.smoke ? 'smoke' : 'full'} run, ${config.viewers} viewers over ${config.spreadMs} ms, ${config.numWorkers} media worker(s)`);
  const clip = await synthesiseClip(opts.smoke ? SMOKE_CLIP : FULL_CLIP);
  const { child: server, ready } = await startChild<ServerReady>(path.join(import.meta.dirname, 'server.child.ts'), {
    BENCH_NUM_WORKERS: String(config.numWorkers),
  });
  let sender: RtpSender | undefined;
  const sockets: ClientSocket[] = [];
  try {
    // The broadcaster goes live through the real protocol: start, a send transport, two producers.
    const auth = await signUp(ready.url, `bench${Date.now().toString(36)}`);
    const caster = await connect(ready.url, auth.token);
    sockets.push(caster);
    const { broadcast, rtpCapabilities } = await ok(caster, 'broadcast:start', { title: 'Join storm', visibility: 'public' });
    const transport = await ok(caster, 'transport:create', { broadcastId: broadcast.id });
    for (const [kind, rtpParameters] of [['video', videoRtpParameters], ['audio', audioRtpParameters]] as const) {
      await ok(caster, 'produce', { broadcastId: broadcast.id, transportId: transport.id, kind, rtpParameters });
    }
    // Its media arrives over RTP (see server.child.ts): a WebRTC send transport would need ICE and DTLS.
    const endpoints = await server.request<{ video: RtpEndpoint; audio: RtpEndpoint }>({ type: 'ingest' } satisfies ServerRequest);
    sender = startRtpSender(clip, endpoints.video, endpoints.audio);
    await waitForPackets(server, sender);

    const heap = () => server.request<HeapReading>({ type: 'heap' } satisfies ServerRequest);
    const heapBefore = await heap();

    const pids = new Map<string, number>([['server', server.pid], ...ready.workerPids.map((pid, i) => [`worker${i}`, pid] as const)]);
    const cpu = new CpuWindow(pids);
    await server.request({ type: 'monitorStart' } satisfies ServerRequest);
    await sleep(opts.smoke ? 500 : 2000);
    const stormStart = performance.timeOrigin + performance.now();
    cpu.start();
    const probe = probeHealth(ready.url);
    log(`join: storm of ${config.viewers} viewers begins`);
    const samples = await storm(ready.url, broadcast.id, config.viewers, config.spreadMs, config.clientTimeoutMs, sockets);
    const stormEnd = performance.timeOrigin + performance.now();
    log(`join: burst of ${config.burstViewers} more viewers over ${config.burstSpreadMs} ms`);
    const burstOffset = (stormEnd - stormStart) / 1000;
    const burst = await storm(ready.url, broadcast.id, config.burstViewers, config.burstSpreadMs, config.clientTimeoutMs, sockets);
    const burstEnd = performance.timeOrigin + performance.now();
    const healthz = await probe.stop();
    const cpuReading = cpu.stop();
    await sleep(opts.smoke ? 300 : 1000);
    const report = await server.request<MonitorReport>({ type: 'monitorStop' } satisfies ServerRequest);
    const status = await server.request<{ viewers: number | null; edges: number | null }>({
      type: 'status',
      broadcastId: broadcast.id,
    } satisfies ServerRequest);

    const okSamples = samples.filter((s) => s.error === null);
    const okBurst = burst.filter((s) => s.error === null);

    // Memory: after the storm, then with viewers that watch (as the web app joins: transport and consumers in one ack).
    const heapAfterStorm = await heap();
    log(`join: ${config.mediaViewers} more viewers join with their transport and consumers, then ${config.steadyMs / 1000} s at steady state`);
    const media = await mediaViewers(ready.url, broadcast.id, config.mediaViewers, rtpCapabilities, config.clientTimeoutMs, sockets);
    const heapAfterMedia = await heap();
    await sleep(config.steadyMs);
    const heapSteady = await heap();
    const kib = (bytes: number, n: number) => (n > 0 ? round(bytes / 1024 / n, 1) : 0);
    const joinedViewers = okSamples.length + okBurst.length;
    const memory: JoinResult['memory'] = {
      readings: { before: heapBefore, afterStorm: heapAfterStorm, afterMedia: heapAfterMedia, steady: heapSteady },
      mediaJoined: media.joined,
      mediaErrors: media.errors,
      joinedKiB: { heap: kib(heapAfterStorm.heapUsed - heapBefore.heapUsed, joinedViewers), external: kib(heapAfterStorm.external - heapBefore.external, joinedViewers) },
      watchingKiB: { heap: kib(heapAfterMedia.heapUsed - heapAfterStorm.heapUsed, media.joined), external: kib(heapAfterMedia.external - heapAfterStorm.external, media.joined) },
      steadyDriftKiB: kib(heapSteady.heapUsed - heapAfterMedia.heapUsed, joinedViewers + media.joined),
      targetMet: false,
    };
    memory.targetMet = media.joined === config.mediaViewers && memory.watchingKiB.heap <= config.targetHeapPerViewerKiB;
    const joinAck = distribution(okSamples.map((s) => s.joinAckMs!));
    const errors = [...new Set([...samples, ...burst].flatMap((s) => (s.error ? [s.error] : [])))].slice(0, 10);
    return {
      config,
      joined: okSamples.length,
      failed: samples.length - okSamples.length,
      errors,
      joinAckMs: joinAck,
      connectMs: distribution(okSamples.map((s) => s.connectMs!)),
      stormMs: Math.round(stormEnd - stormStart),
      burst: {
        joined: okBurst.length,
        failed: burst.length - okBurst.length,
        joinAckMs: distribution(okBurst.map((s) => s.joinAckMs!)),
        connectMs: distribution(okBurst.map((s) => s.connectMs!)),
        ms: Math.round(burstEnd - stormEnd),
      },
      memory,
      serverViewers: status.viewers,
      serverEdges: status.edges,
      ingest: ingestFigures(report, stormStart, burstEnd),
      server: { eventLoopDelayMs: report.eventLoopDelayMs, healthzMs: distribution(healthz), cpu: cpuReading },
      timeline: {
        joins: okSamples.map((s) => [round(s.startMs / 1000, 3), round(s.joinAckMs!, 1)]),
        burstJoins: okBurst.map((s) => [round(burstOffset + s.startMs / 1000, 3), round(s.joinAckMs!, 1)]),
        ingestPps: ingestRate(report, stormStart),
      },
      targetMet: joinAck.p99 === null ? null : joinAck.p99 <= config.targetP99Ms && samples.length === okSamples.length,
    };
  } finally {
    for (const s of sockets) s.disconnect();
    await sender?.stop();
    await server.stop();
  }
}

/** Starts `viewers` clients evenly over `spreadMs`, each connects and joins; resolves when all have answered or failed. */
async function storm(
  url: string,
  broadcastId: string,
  viewers: number,
  spreadMs: number,
  clientTimeoutMs: number,
  sockets: ClientSocket[],
): Promise<JoinSample[]> {
  const t0 = performance.now();
  return Promise.all(
    Array.from({ length: viewers }, async (_, i): Promise<JoinSample> => {
      const due = (i * spreadMs) / viewers;
      const wait = due - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
      const start = performance.now();
      let connectMs: number | null = null;
      try {
        const socket = await connect(url, undefined, clientTimeoutMs);
        sockets.push(socket);
        connectMs = performance.now() - start;
        const sent = performance.now();
        const res = await request(socket, 'broadcast:join', { broadcastId: broadcastId }, clientTimeoutMs);
        const joinAckMs = performance.now() - sent;
        if (!res.ok) return { startMs: start - t0, connectMs, joinAckMs: null, error: `${res.error.code}: ${res.error.message}` };
        return { startMs: start - t0, connectMs, joinAckMs, error: null };
      } catch (error) {
        return { startMs: start - t0, connectMs, joinAckMs: null, error: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
}

/**
 * `viewers` more clients join as the web app does (`transport: true` and the router's
 * capabilities as the device's: the ack carries the receive transport and the paused
 * consumers), 10 at a time. No ICE follows: what is measured is what the server holds per viewer.
 */
async function mediaViewers(
  url: string,
  broadcastId: string,
  viewers: number,
  rtpCapabilities: Responses['broadcast:start']['rtpCapabilities'],
  clientTimeoutMs: number,
  sockets: ClientSocket[],
): Promise<{ joined: number; errors: string[] }> {
  let next = 0;
  let joined = 0;
  const errors = new Set<string>();
  const one = async () => {
    while (next < viewers) {
      next++;
      try {
        const socket = await connect(url, undefined, clientTimeoutMs);
        sockets.push(socket);
        const res = await request(socket, 'broadcast:join', { broadcastId, transport: true, rtpCapabilities }, clientTimeoutMs);
        if (!res.ok) errors.add(`${res.error.code}: ${res.error.message}`);
        else if (!res.data.transport || (res.data.consumers?.length ?? 0) !== 2) errors.add(`joined without a transport and 2 consumers (${res.data.consumers?.length ?? 0})`);
        else joined++;
      } catch (error) {
        errors.add(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(10, viewers) }, one));
  return { joined, errors: [...errors].slice(0, 10) };
}

async function waitForPackets(server: ChildHandle, sender: RtpSender): Promise<void> {
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline) {
    if ((await server.request<number>({ type: 'packets' } satisfies ServerRequest)) > 0) return;
    await sleep(100);
  }
  throw new Error(`the RTP sender's packets do not reach the producers; ffmpeg says: ${sender.stderrTail() || '(nothing)'}`);
}

/** GET /healthz every 100 ms until stopped; returns the round trips in ms. */
function probeHealth(url: string): { stop: () => Promise<number[]> } {
  const times: number[] = [];
  // Set by stop() while the loop awaits (the cast keeps TS from narrowing it to true).
  let running = true as boolean;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      try {
        const res = await fetch(`${url}/healthz`);
        await res.arrayBuffer();
        if (res.ok) times.push(round(performance.now() - t, 1));
      } catch {
        // A failed probe shows as a missing sample; the join errors tell the story.
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return times;
    },
  };
}

function ingestFigures(report: MonitorReport, stormStart: number, stormEnd: number): JoinResult['ingest'] {
  const s = report.samples;
  const rate = (from: number, to: number) => {
    const inside = s.filter((x) => x.at >= from && x.at <= to);
    const a = inside[0];
    const b = inside[inside.length - 1];
    return a && b && b.at > a.at ? round(((b.packets - a.packets) * 1000) / (b.at - a.at), 1) : null;
  };
  const before = rate(-Infinity, stormStart);
  const during = rate(stormStart, stormEnd);
  let maxStall: number | null = null;
  let lastGrowth: number | undefined;
  for (let i = 1; i < s.length; i += 1) {
    const cur = s[i]!;
    const prev = s[i - 1]!;
    if (cur.at < stormStart || prev.at > stormEnd) continue;
    if (cur.packets > prev.packets) {
      if (lastGrowth !== undefined) maxStall = Math.max(maxStall ?? 0, cur.at - lastGrowth);
      lastGrowth = cur.at;
    }
  }
  return {
    ppsBefore: before,
    ppsDuring: during,
    ratio: before && during !== null ? round(during / before, 3) : null,
    maxStallMs: maxStall,
    statsRpcMs: distribution(s.filter((x) => x.at >= stormStart && x.at <= stormEnd).map((x) => x.rpcMs)),
    packetsMonitored: (s[s.length - 1]?.packets ?? 0) - (s[0]?.packets ?? 0),
  };
}

/** Ingest packets per second in 500 ms buckets, x in seconds since the storm began. */
function ingestRate(report: MonitorReport, stormStart: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const s = report.samples;
  let prev = s[0];
  for (const cur of s) {
    if (!prev || cur.at - prev.at < 500) continue;
    out.push([round((cur.at - stormStart) / 1000, 2), round(((cur.packets - prev.packets) * 1000) / (cur.at - prev.at), 1)]);
    prev = cur;
  }
  return out;
}

// ------------------------------------------------------------------ client --

async function signUp(url: string, username: string): Promise<AuthResponse> {
  const res = await fetch(`${url}/api/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: 'bench password, not secret' }),
  });
  if (res.status !== 201) throw new Error(`signup ${username}: ${res.status} ${await res.text()}`);
  return (await res.json()) as AuthResponse;
}

function connect(url: string, token?: string, timeoutMs = 15_000): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, {
    transports: ['websocket'],
    auth: token ? { token } : {},
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.disconnect();
      reject(new Error(`connect: ${err.message}`));
    });
  });
}

function request<E extends RequestName>(socket: ClientSocket, event: E, payload: RequestInput<E>, timeoutMs = 15_000): Promise<Ack<Responses[E]>> {
  const emit = socket.timeout(timeoutMs).emit as unknown as (e: string, p: unknown, cb: (err: Error | null, res: Ack<Responses[E]>) => void) => void;
  return new Promise((resolve, reject) => {
    emit.call(socket, event, payload, (err, res) => (err ? reject(new Error(`${event}: no ack within ${timeoutMs} ms`)) : resolve(res)));
  });
}

async function ok<E extends RequestName>(socket: ClientSocket, event: E, payload: RequestInput<E>): Promise<Responses[E]> {
  const res = await request(socket, event, payload);
  if (!res.ok) throw new Error(`${event} failed: ${res.error.code} ${res.error.message}`);
  return res.data;
}

// ------------------------------------------------------------------ output --

export function summary(r: JoinResult): Partial<LatestFigures> {
  return { join: { p50Ms: r.joinAckMs.p50, p99Ms: r.joinAckMs.p99, heapPerWatchingViewerKiB: r.memory.watchingKiB.heap } };
}

export function describe(r: JoinResult): string[] {
  const d = r.joinAckMs;
  return [
    `${r.joined}/${r.config.viewers} viewers joined over ${r.config.spreadMs / 1000} s (${r.failed} failed${r.errors.length ? `: ${r.errors.join('; ')}` : ''}); ` +
      `join ack p50 ${d.p50} ms, p99 ${d.p99} ms, max ${d.max} ms (target p99 ≤ ${r.config.targetP99Ms} ms: ${r.targetMet ? 'met' : 'missed'})`,
    `connect p50 ${r.connectMs.p50} ms, p99 ${r.connectMs.p99} ms; then a burst of ${r.config.burstViewers} more over ${r.config.burstSpreadMs / 1000} s: ` +
      `${r.burst.joined} joined (${r.burst.failed} failed), join ack p50 ${r.burst.joinAckMs.p50} ms, p99 ${r.burst.joinAckMs.p99} ms; ` +
      `server counted ${r.serverViewers} viewers, ${r.serverEdges} edge router(s)`,
    `broadcast kept flowing: ingest ${r.ingest.ppsDuring} packets/s during storm and burst vs ${r.ingest.ppsBefore} before (×${r.ingest.ratio}), ` +
      `longest stall ${r.ingest.maxStallMs} ms; server event loop delay p99 ${r.server.eventLoopDelayMs.p99} ms, ` +
      `max ${r.server.eventLoopDelayMs.max} ms; /healthz p99 ${r.server.healthzMs.p99} ms`,
    `server Node memory per viewer (after a full GC): joined ${r.memory.joinedKiB.heap} KiB heap + ${r.memory.joinedKiB.external} KiB external; ` +
      `watching (${r.memory.mediaJoined}/${r.config.mediaViewers} joined with transport and consumers${r.memory.mediaErrors.length ? `: ${r.memory.mediaErrors.join('; ')}` : ''}) ` +
      `${r.memory.watchingKiB.heap} KiB heap + ${r.memory.watchingKiB.external} KiB external (target ≤ ${r.config.targetHeapPerViewerKiB} KiB heap: ${r.memory.targetMet ? 'met' : 'missed'}); ` +
      `heap drift over ${r.config.steadyMs / 1000} s after: ${r.memory.steadyDriftKiB} KiB per viewer`,
  ];
}

export function chart(r: JoinResult): string {
  const cdf = (points: Array<[number, number]>) => {
    const sorted = points.map(([, y]) => y).sort((a, b) => a - b);
    return sorted.map((y, i) => [round(((i + 1) / sorted.length) * 100, 2), y] as const);
  };
  return chartDocument(
    `Join storm: ${r.config.viewers} socket.io viewers over ${r.config.spreadMs / 1000} s`,
    `${r.startedAt} · ${r.machine.cores} × ${r.machine.cpuModel} · p50 ${r.joinAckMs.p50} ms · p99 ${r.joinAckMs.p99} ms`,
    [
      {
        title: 'Join ack latency per viewer',
        xLabel: 'join started (s into the storm)',
        yLabel: 'ms',
        series: [
          { name: `storm (${r.config.viewers})`, points: r.timeline.joins, style: 'dots' },
          { name: `burst (+${r.config.burstViewers})`, points: r.timeline.burstJoins, style: 'dots' },
        ],
        hLines: [{ y: r.config.targetP99Ms, label: `target p99 ${r.config.targetP99Ms} ms` }],
      },
      {
        title: 'Join ack latency distribution',
        xLabel: 'percentile',
        yLabel: 'ms',
        series: [
          { name: `storm (${r.config.viewers})`, points: cdf(r.timeline.joins) },
          { name: `burst (+${r.config.burstViewers})`, points: cdf(r.timeline.burstJoins) },
        ],
        hLines: [{ y: r.config.targetP99Ms, label: 'target p99' }],
      },
      {
        title: 'Broadcaster ingest during storm and burst',
        xLabel: 's since the storm began',
        yLabel: 'packets / s',
        series: [{ name: 'producer packets/s', points: r.timeline.ingestPps }],
      },
    ],
    3,
  );
}
