import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, createReadStream, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { expect } from 'vitest';
import type { TimelineSpan } from '../../common/replay/timeline.ts';
import type { ReplayDetail } from '../../common/protocol/replays.ts';
import type { ArchiveSummary } from '../../common/protocol/archives.ts';
import { finalizeJobId, QUEUES, recordJobId } from '../../common/jobs/queues.ts';
import { synthesiseClip, type ClipSpec } from '../../testkit/media.ts';
import { manifestSha256 } from '../helpers/archiveChecksum.ts';
import { PlainBroadcaster, PlainViewers } from '../../testkit/plainPeers.ts';
import { signUp, type TestServer } from '../../testkit/server.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { freePort } from '../../testkit/supervisor.ts';

/**
 * The fault scenarios' common part: a live broadcast, recorded, to 50 synthetic viewers
 * (testkit/plainPeers.ts: the real socket.io protocol, plain RTP instead of ICE/DTLS/SRTP),
 * a fault, then the figures (what the viewers saw, what the replay lost) and the invariants
 * (no job ran twice, no replay or archive lost, nothing ready while broken).
 */

const run = promisify(execFile);

/** Light media (the 2 cores are shared): 320×180 VP8 15 fps 150 kbit/s, key frame every second, Opus 24 kbit/s. */
export const FAULT_CLIP: ClipSpec = { seconds: 4, size: '320x180', fps: 15, videoKbps: 150, gop: 15, audioKbps: 24 };
export const VIEWERS = 50;

/** What the scenario needs to know about the Spyglass under test. */
export interface Target {
  url: string;
  redisUrl: string;
  queuePrefix: string;
  /** The replay as stored (the replays table), for its timeline. */
  replayRow(id: string): Promise<{ state: string; timeline: TimelineSpan[]; mp4Sha256: string | null; mp4Name: string | null } | undefined>;
  dataDir: string;
}

export interface Live {
  token: string;
  caster: PlainBroadcaster;
  viewers: PlainViewers;
  id: string;
}

/** Goes live, 50 viewers join, waits until they all receive and the recorder writes. */
export async function goLive(target: Target, name: string): Promise<Live> {
  const clip = await synthesiseClip(FAULT_CLIP);
  const auth = await signUp(target.url, `${name}${Date.now().toString(36)}`);
  const caster = await PlainBroadcaster.start(target.url, auth.token, clip, `Fault: ${name}`);
  let viewers: PlainViewers | undefined;
  try {
    viewers = await PlainViewers.join(target.url, caster.broadcastId, VIEWERS);
    const live = { token: auth.token, caster, viewers, id: caster.broadcastId };
    await waitAllReceiving(live, 30_000);
    // The recorder is running: its segments directory exists.
    const dir = path.join(target.dataDir, 'recordings', live.id);
    const until = Date.now() + 30_000;
    while (!existsSync(dir) || readdirSync(dir).length === 0) {
      if (Date.now() > until) throw new Error('the recorder did not start within 30 s');
      await sleep(200);
    }
    await sleep(3000);
    return live;
  } catch (error) {
    viewers?.close();
    await caster.close();
    throw error;
  }
}

/** Viewers that received RTP in the last second. */
export function receiving(live: Live): number {
  const now = Date.now();
  return live.viewers.stats().filter((v) => v.lastRtpAt !== null && now - v.lastRtpAt < 1000).length;
}

/** Waits until every viewer receives (false after `ms`). */
export async function waitAllReceiving(live: Live, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (receiving(live) < live.viewers.count) {
    if (Date.now() > until) return false;
    await sleep(200);
  }
  return true;
}

/** Asks for the broadcaster's archive ("Download your data"); resolves with its id. */
export async function requestArchive(target: Target, token: string): Promise<string> {
  const res = await fetch(`${target.url}/api/archives`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  if (res.status >= 300) throw new Error(`POST /api/archives: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { archive: ArchiveSummary };
  return body.archive.id;
}

export interface FaultFigures {
  scenario: string;
  viewers: number;
  /** Longest time without RTP per viewer, from just before the fault to the end of the broadcast (s). */
  gapS: { median: number; max: number };
  /** Viewers receiving again within the wait after the fault. */
  recovered: number;
  /** Viewers whose client was told the broadcast ended (`broadcast:ended`, or a join refused with BROADCAST_ENDED). */
  viewersToldEnded: number;
  /** Fault → viewer told the broadcast ended (s): median and max over those told. */
  toldEndedAfterS: { median: number; max: number } | null;
  liveS: number;
  replayS: number | null;
  /** liveS − replayS. */
  lostS: number | null;
  /** Gaps in the replay's timeline (broadcast offsets, s): before the first run, between runs, after the last. */
  timelineGaps: Array<{ atS: number; lengthS: number }>;
  /** When the fault was injected (broadcast offset, s). */
  faultAtS: number;
  runs: number;
  jobs: { recordAttempts: number | null; finalizeAttempts: number | null; readyResults: number };
  broadcasterResumes: number;
  endReason: string | null;
  replayState: string;
  archive: string;
  notes: string[];
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Ends the broadcast (if it is still live), waits for the replay and the archive, prints the
 * figures (`FAULT-FIGURES {json}`) and asserts the invariants. `expectEnded`: the fault ended
 * the broadcast on its own (then the replay of what was recorded must still be made).
 */
export async function finishAndCheck(
  target: Target,
  live: Live,
  o: { scenario: string; faultAt: number; recovered: number; archiveId: string | null; notes?: string[] },
): Promise<FaultFigures> {
  const { caster, viewers, id } = live;
  const before = viewers.stats();
  const gaps = before.map((v) => v.maxGapMs / 1000).sort((a, b) => a - b);
  const viewersToldEnded = before.filter((v) => v.ended !== null).length;
  const told = before.flatMap((v) => (v.endedAt !== null ? [(v.endedAt - o.faultAt) / 1000] : [])).sort((a, b) => a - b);
  if (caster.live) await caster.stop().catch((e: unknown) => (o.notes ??= []).push(`stop: ${String(e)}`));
  await caster.close();
  viewers.close();
  const endedAt = caster.endedAt ?? Date.now();

  // The replay: final state within 2 minutes.
  let detail: ReplayDetail | undefined;
  const until = Date.now() + 120_000;
  for (;;) {
    const res = await fetch(`${target.url}/api/replays/${id}`, { headers: { authorization: `Bearer ${live.token}` } }).catch(() => undefined);
    if (res?.ok) detail = (await res.json()) as ReplayDetail;
    if (detail && (detail.state === 'ready' || detail.state === 'failed')) break;
    if (Date.now() > until) break;
    await sleep(500);
  }
  const row = await target.replayRow(id);
  const timeline = row?.timeline ?? [];
  const liveMs = endedAt - caster.startedAt;
  const timelineGaps: FaultFigures['timelineGaps'] = [];
  let cursor = 0;
  for (const span of [...timeline].sort((a, b) => a.offsetMs - b.offsetMs)) {
    if (span.offsetMs - cursor > 250) timelineGaps.push({ atS: round(cursor / 1000), lengthS: round((span.offsetMs - cursor) / 1000) });
    cursor = Math.max(cursor, span.offsetMs + span.durationMs);
  }
  if (liveMs - cursor > 250) timelineGaps.push({ atS: round(cursor / 1000), lengthS: round((liveMs - cursor) / 1000) });

  // Jobs: BullMQ's attempts, and the 'ready' reports of this replay.
  const q = (name: string) => new Queue(name, { connection: { url: target.redisUrl }, prefix: target.queuePrefix });
  const [record, finalize, results] = [q(QUEUES.record), q(QUEUES.finalize), q(QUEUES.results)];
  let jobs: FaultFigures['jobs'];
  try {
    const [rj, fj, rs] = await Promise.all([
      record.getJob(recordJobId(id)),
      finalize.getJob(finalizeJobId(id)),
      results.getJobs(['completed', 'failed', 'waiting', 'active', 'delayed']),
    ]);
    const readyResults = rs.filter((j) => {
      const d = j?.data as { type?: string; broadcastId?: string; state?: string } | undefined;
      return d?.type === 'replay' && d.broadcastId === id && d.state === 'ready';
    }).length;
    jobs = { recordAttempts: rj?.attemptsMade ?? null, finalizeAttempts: fj?.attemptsMade ?? null, readyResults };
  } finally {
    await Promise.all([record.close(), finalize.close(), results.close()]);
  }

  // The archive asked for before the fault.
  let archive: ArchiveSummary | null = null;
  if (o.archiveId) {
    const untilArchive = Date.now() + 90_000;
    for (;;) {
      const res = await fetch(`${target.url}/api/archives/latest`, { headers: { authorization: `Bearer ${live.token}` } }).catch(() => undefined);
      if (res?.ok) archive = ((await res.json()) as { archive: ArchiveSummary | null }).archive;
      if (archive && archive.state !== 'building') break;
      if (Date.now() > untilArchive) break;
      await sleep(500);
    }
  }

  const replayS = detail?.durationMs != null ? detail.durationMs / 1000 : null;
  const figures: FaultFigures = {
    scenario: o.scenario,
    viewers: viewers.count,
    gapS: { median: round(gaps[Math.floor(gaps.length / 2)] ?? 0), max: round(gaps.at(-1) ?? 0) },
    recovered: o.recovered,
    viewersToldEnded,
    toldEndedAfterS: told.length ? { median: round(told[Math.floor(told.length / 2)]!), max: round(told.at(-1)!) } : null,
    liveS: round(liveMs / 1000),
    replayS: replayS === null ? null : round(replayS),
    lostS: replayS === null ? null : round(liveMs / 1000 - replayS),
    timelineGaps,
    faultAtS: round((o.faultAt - caster.startedAt) / 1000),
    runs: timeline.length,
    jobs,
    broadcasterResumes: caster.resumes,
    endReason: caster.endReason,
    replayState: detail?.state ?? 'unknown',
    archive: archive ? `${archive.state}${archive.reason ? `: ${archive.reason}` : ''}` : o.archiveId ? 'missing' : 'not asked',
    notes: o.notes ?? [],
  };
  console.log(`FAULT-FIGURES ${JSON.stringify(figures)}`);

  // ---- invariants ----
  // No replay lost: the broadcast's replay was made, from what was recorded.
  expect(detail?.state, `replay of ${id}: ${detail?.reason ?? 'no final state'}`).toBe('ready');
  // A finalize never produced two replays: one job, one attempt, one 'ready' report.
  expect(jobs.finalizeAttempts).toBe(1);
  expect(jobs.readyResults).toBe(1);
  // Never two recorders at once: the runs of the timeline do not overlap.
  const spans = [...timeline].sort((a, b) => a.offsetMs - b.offsetMs);
  for (let i = 1; i < spans.length; i++) {
    expect(spans[i]!.offsetMs, `run ${i} starts inside run ${i - 1}`).toBeGreaterThanOrEqual(spans[i - 1]!.offsetMs + spans[i - 1]!.durationMs - 100);
    expect(spans[i]!.mediaStartMs).toBeGreaterThanOrEqual(spans[i - 1]!.mediaStartMs + spans[i - 1]!.durationMs - 100);
  }
  // Nothing marked ready while broken: every file decodes, the MP4's SHA-256 is the stored one.
  await checkReplayFiles(target, id, detail!, row);
  // No archive lost: ready, and what it serves is what it claims.
  if (o.archiveId) {
    expect(archive?.id).toBe(o.archiveId);
    expect(archive?.state, archive?.reason ?? '').toBe('ready');
    await checkArchive(target, archive!);
  }
  return figures;
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** ffprobe finds a video stream and a duration; a full decode reports no error. */
async function decodes(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type', '-of', 'json', file]);
  const j = JSON.parse(stdout) as { format?: { duration?: string }; streams?: Array<{ codec_type: string }> };
  expect(j.streams?.some((s) => s.codec_type === 'video'), `${file} has no video`).toBe(true);
  const duration = Number(j.format?.duration ?? 0);
  expect(duration, `${file} duration`).toBeGreaterThan(0);
  await run('ffmpeg', ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-'], { timeout: 120_000 });
  return duration;
}

async function checkReplayFiles(target: Target, id: string, detail: ReplayDetail, row: Awaited<ReturnType<Target['replayRow']>>): Promise<void> {
  const dir = path.join(target.dataDir, 'replays', id);
  expect(row?.mp4Name, 'stored MP4').toBeTruthy();
  const mp4 = path.join(dir, row!.mp4Name!);
  const mp4S = await decodes(mp4);
  expect(Math.abs(mp4S * 1000 - (detail.durationMs ?? 0))).toBeLessThan(1500);
  const digest = await sha256(mp4);
  expect(digest).toBe(row!.mp4Sha256);
  expect(digest).toBe(detail.download?.sha256);
  const files = readdirSync(dir);
  expect(files.filter((f) => f.endsWith('.mp4'))).toHaveLength(1);
  if (files.includes('video.webm')) await decodes(path.join(dir, 'video.webm'));
  if (existsSync(path.join(dir, 'hls', 'index.m3u8'))) {
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path.join(dir, 'hls', 'index.m3u8')]);
    expect(Number(stdout.trim())).toBeGreaterThan(0);
  }
}

async function checkArchive(target: Target, archive: ArchiveSummary): Promise<void> {
  expect(archive.downloadUrl).toBeTruthy();
  const res = await fetch(new URL(archive.downloadUrl!, target.url));
  expect(res.status).toBe(200);
  const body = Buffer.from(await res.arrayBuffer());
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'spyglass-fault-zip-'));
  try {
    writeFileSync(path.join(tmp, 'a.zip'), body);
    await run('unzip', ['-tq', path.join(tmp, 'a.zip')]);
    expect(manifestSha256(path.join(tmp, 'a.zip'))).toBe(archive.sha256);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------ own servers --

/** A redis-server of the test's own (never the machine's shared one): no persistence, so a restart loses everything. */
export interface OwnRedis {
  url: string;
  port: number;
  /** SIGKILL, then the same port again. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-fault-redis-'));
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc = p;
    let out = '';
    p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
      const check = () => {
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      p.stdout?.on('data', check);
      p.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}):\n${out}`));
      });
    });
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart() {
      await kill();
      await start();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A throwaway PostgreSQL cluster of the test's own (initdb in a temp dir), never the machine's shared one. */
export interface OwnPostgres {
  url: string;
  /** pg_ctl restart -m immediate (no clean shutdown: like a crash). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function pgBin(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)) return `/usr/lib/postgresql/${v}/bin`;
  throw new Error('no /usr/lib/postgresql/*/bin/initdb');
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = pgBin();
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-fault-pg-'));
  const data = path.join(dir, 'data');
  const port = await freePort();
  if (root) {
    // The server refuses to run as root: the cluster belongs to postgres.
    chmodSync(dir, 0o755);
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const as = (cmd: string, args: string[]) => (root ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args));
  const ctl = (args: string[]) =>
    as(path.join(bin, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, ...args]);
  await as(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
  await ctl(['start']);
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async restart() {
      await ctl(['restart', '-m', 'immediate']);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await ctl(['stop', '-m', 'immediate']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The target of a signalling server running in the test process (startTestServer). */
export function inProcessTarget(server: TestServer): Target {
  return {
    url: server.url,
    redisUrl: server.config.redisUrl,
    queuePrefix: server.config.queuePrefix,
    dataDir: server.dataDir,
    async replayRow(id) {
      const r = await server.stores.replays.get(id as BroadcastId);
      return r && { state: r.state, timeline: r.timeline, mp4Sha256: r.mp4?.sha256 ?? null, mp4Name: r.mp4?.name ?? null };
    },
  };
}
