import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { buildArchive } from '../../workers/archive/buildArchive.ts';
import type { ArchiveInput } from '../../common/jobs/archiveInput.ts';
import { round } from '../lib/proc.ts';
import { median } from '../lib/stats.ts';
import { chartDocument } from '../lib/svg.ts';
import type { BenchBody, BenchResult, LatestFigures, RunOptions } from '../types.ts';
import { LocalDiskStorage } from '../../common/storage/LocalDiskStorage.ts';

/**
 * Archive throughput ("Download your data") against `cp` of the same bytes on the same disk,
 * in the same run. A realistic user — a few replays, ~1 GiB of media in all, chat and hearts —
 * is laid out in a data directory as the finalize job leaves it; the real `buildArchive`
 * (workers/archive/buildArchive.ts) builds their zip, and `cp` + `sync` copies the same media
 * files next to it; runs alternate, medians compared. See docs/benchmarks.md.
 */

const execFileAsync = promisify(execFile);
const MiB = 1 << 20;

export interface ArchiveConfig {
  /** Sizes of the users' replay.mp4 files (bytes). */
  replayBytes: number[];
  /** Timed runs of each of `cp` and the archive (alternating). */
  runs: number;
  /** Extra runs with an input that carries no stored hashes (the archive hashes every file itself). */
  runsWithoutStoredHashes: number;
  chatPerBroadcast: number;
  targetRatio: number;
}

export interface TimedRun {
  kind: 'cp' | 'archive' | 'archive-no-stored-hash';
  /** Order within the run (0-based, across kinds). */
  index: number;
  ms: number;
  /** Media bytes per second (MB = 10^6 bytes). */
  mbPerS: number;
  /** CPU seconds of this process (all threads) during an archive run; null for cp (another process). */
  cpuS: number | null;
}

export interface ArchiveResult extends BenchResult<'archive', ArchiveConfig> {
  mediaBytes: number;
  zipBytes: number;
  entries: number;
  runs: TimedRun[];
  cp: { medianMs: number; medianMbPerS: number };
  archive: { medianMs: number; medianMbPerS: number; cpuSecondsPerGB: number | null };
  /** Runs whose input carried no stored SHA-256 (snapshots of older versions): every file is hashed again. */
  archiveWithoutStoredHashes: { medianMs: number; medianMbPerS: number } | null;
  /** median cp time ÷ median archive time (same bytes): archive throughput as a fraction of cp's. */
  ratioVsCp: number;
  /** The same ratio for each archive run against the cp run next to it. */
  pairRatios: number[];
  /** `unzip -t` of the last archive passed, and its manifest lists every file. */
  verified: boolean;
  targetMet: boolean;
}

function archiveConfig(smoke: boolean): ArchiveConfig {
  return smoke
    ? { replayBytes: [3 * MiB, 2 * MiB, 1 * MiB + 12345], runs: 2, runsWithoutStoredHashes: 1, chatPerBroadcast: 20, targetRatio: 0.8 }
    : { replayBytes: [448 * MiB, 320 * MiB, 192 * MiB, 64 * MiB], runs: 15, runsWithoutStoredHashes: 2, chatPerBroadcast: 300, targetRatio: 0.8 };
}

/** A user as the finalize job leaves them: per broadcast replay.mp4 (random bytes: as incompressible as H.264) and poster.jpg. */
async function layOutUser(dataDir: string, config: ArchiveConfig): Promise<{ input: ArchiveInput; media: string[]; mediaBytes: number }> {
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const broadcasts: ArchiveInput['broadcasts'] = [];
  const media: string[] = [];
  let mediaBytes = 0;
  for (const [i, size] of config.replayBytes.entries()) {
    const id = `b_benchArchive${String(i).padStart(3, '0')}` as ArchiveInput['broadcasts'][number]['id'];
    const dir = path.join(dataDir, 'replays', id);
    mkdirSync(dir, { recursive: true });
    const mp4 = path.join(dir, 'replay.mp4');
    // Hashed as it is written, as finalize does (the replays table keeps the MP4's size, SHA-256 and CRC-32).
    const hash = createHash('sha256');
    let crc32 = 0;
    let left = size;
    await pipeline(
      (async function* () {
        while (left > 0) {
          const chunk = randomBytes(Math.min(MiB, left));
          left -= chunk.length;
          hash.update(chunk);
          crc32 = zlib.crc32(chunk, crc32);
          yield chunk;
        }
      })(),
      createWriteStream(mp4),
    );
    const poster = randomBytes(60_000);
    writeFileSync(path.join(dir, 'poster.jpg'), poster);
    media.push(mp4, path.join(dir, 'poster.jpg'));
    mediaBytes += size + poster.length;
    const durationMs = Math.round((size * 8) / 1_000_000) * 1000; // ~1 Mbit/s
    const startedAt = now - (i + 1) * 86_400_000;
    broadcasts.push({
      id,
      title: `Broadcast ${i + 1}`,
      visibility: i % 2 === 0 ? 'public' : 'private',
      startedAt: iso(startedAt),
      endedAt: iso(startedAt + durationMs),
      replay: {
        durationMs,
        timeline: [{ offsetMs: 0, mediaStartMs: 0, durationMs }],
        files: ['replay.mp4', 'poster.jpg'],
        hashes: { 'replay.mp4': { sizeBytes: size, sha256: hash.digest('hex'), crc32: crc32 >>> 0 } },
      },
      chat: Array.from({ length: config.chatPerBroadcast }, (_, k) => ({
        id: `m_${i}_${k}`,
        username: k % 3 === 0 ? 'bench' : `viewer${k % 17}`,
        text: `message ${k} of broadcast ${i + 1} — with some text to make it look like chat`,
        offsetMs: Math.floor((durationMs * k) / Math.max(1, config.chatPerBroadcast)),
        sentAt: iso(startedAt + Math.floor((durationMs * k) / Math.max(1, config.chatPerBroadcast))),
      })),
      hearts: Array.from({ length: 20 }, (_, k) => ({ offsetMs: k * 1000, count: 1 + (k % 5) })),
    });
  }
  const input: ArchiveInput = {
    archiveId: 'a_benchArchive01',
    createdAt: iso(now),
    appVersion: 'bench',
    profile: { id: 'u_bench', username: 'bench', createdAt: iso(now - 365 * 86_400_000) },
    broadcasts,
    chatElsewhere: Array.from({ length: 50 }, (_, k) => ({
      id: `e_${k}`,
      username: 'bench',
      text: `elsewhere ${k}`,
      offsetMs: k * 1000,
      sentAt: iso(now - k * 60_000),
      broadcastId: 'b_someoneElse0001',
      broadcastTitle: 'Someone else',
    })),
  };
  return { input, media, mediaBytes };
}

/** Reads every file once, so that every timed run reads from the page cache. */
async function warm(files: string[]): Promise<void> {
  for (const f of files) {
    await pipeline(createReadStream(f, { highWaterMark: 4 * MiB }), async function* (source) {
      for await (const _ of source) yield* [];
    });
  }
}

/** Flushes the previous run's writes and deletions, so that no run pays for another's. */
async function settle(): Promise<void> {
  await execFileAsync('sync');
  await sleep(300);
}

const withoutStoredHashes = (input: ArchiveInput): ArchiveInput => ({
  ...input,
  broadcasts: input.broadcasts.map((b) => ({ ...b, replay: b.replay ? { durationMs: b.replay.durationMs, timeline: b.replay.timeline, files: b.replay.files } : null })),
});

export async function run(opts: RunOptions): Promise<BenchBody<ArchiveResult>> {
  const log = opts.log ?? (() => undefined);
  const config = archiveConfig(opts.smoke);
  // In the temp directory: the archive and the copies are written to the same disk as the sources.
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-bench-archive-'));
  try {
    log(`archive: laying out a user with ${config.replayBytes.length} replays, ${round(config.replayBytes.reduce((a, b) => a + b, 0) / MiB)} MiB of media, in ${dataDir}`);
    const { input, media, mediaBytes } = await layOutUser(dataDir, config);
    await warm(media);
    const outFile = path.join(dataDir, 'archives', input.archiveId, 'archive.zip');
    const cpDir = path.join(dataDir, 'cp-copy');

    const runs: TimedRun[] = [];
    let zipBytes = 0;
    let entries = 0;
    const timeArchive = async (kind: 'archive' | 'archive-no-stored-hash') => {
      // The previous zip is removed before the timed run, as cp's copies are: renaming the new
      // zip over it made the run pay for freeing 1 GiB (rename() took ~0.4 s under strace, #12);
      // the service never renames over an archive (each has its own directory).
      rmSync(path.dirname(outFile), { recursive: true, force: true });
      await settle();
      const cpu = process.cpuUsage();
      const t = performance.now();
      const built = await buildArchive({ input: kind === 'archive' ? input : withoutStoredHashes(input), storage: new LocalDiskStorage(dataDir), outFile });
      const ms = performance.now() - t;
      const used = process.cpuUsage(cpu);
      zipBytes = built.sizeBytes;
      entries = built.entries;
      runs.push({ kind, index: runs.length, ms: round(ms, 1), mbPerS: round(mediaBytes / 1e3 / ms, 1), cpuS: round((used.user + used.system) / 1e6, 3) });
    };
    // Same-named files from different replays would overwrite each other in one directory: copy each replay's files under its own name.
    const copyAll = async () => {
      rmSync(cpDir, { recursive: true, force: true });
      mkdirSync(cpDir);
      await settle();
      const t = performance.now();
      const targets = media.map((m) => path.join(cpDir, `${path.basename(path.dirname(m))}-${path.basename(m)}`));
      for (const [i, m] of media.entries()) await execFileAsync('cp', [m, targets[i]!]);
      await execFileAsync('sync', targets);
      const ms = performance.now() - t;
      runs.push({ kind: 'cp', index: runs.length, ms: round(ms, 1), mbPerS: round(mediaBytes / 1e3 / ms, 1), cpuS: null });
    };

    // Warm-up (not counted): the first run of each pays for lazy loading and page-cache growth.
    await copyAll();
    await timeArchive('archive');
    runs.length = 0;
    // A B B A A B …: neither goes first more often, and drifts of the machine fall on both.
    for (let i = 0; i < config.runs; i++) {
      const order = i % 2 === 0 ? ['cp', 'archive'] : ['archive', 'cp'];
      for (const kind of order) {
        if (kind === 'cp') await copyAll();
        else await timeArchive('archive');
        // The archive's output and the copies are removed before the next run of their kind (untimed).
      }
      log(`archive: pair ${i + 1}/${config.runs}: cp ${runs.at(-2)?.kind === 'cp' ? runs.at(-2)?.mbPerS : runs.at(-1)?.mbPerS} MB/s, archive ${runs.filter((r) => r.kind === 'archive').at(-1)?.mbPerS} MB/s`);
    }
    for (let i = 0; i < config.runsWithoutStoredHashes; i++) await timeArchive('archive-no-stored-hash');

    // The last archive (the one with stored hashes is rebuilt, so that the check covers it).
    await timeArchive('archive');
    runs.pop();
    const verified = await verify(outFile, input, entries);
    rmSync(cpDir, { recursive: true, force: true });

    const of = (kind: TimedRun['kind']) => runs.filter((r) => r.kind === kind);
    const cpMs = median(of('cp').map((r) => r.ms))!;
    const arMs = median(of('archive').map((r) => r.ms))!;
    const noHash = of('archive-no-stored-hash');
    const noHashMs = median(noHash.map((r) => r.ms));
    const cpu = of('archive').map((r) => r.cpuS ?? 0);
    // Each archive run against the cp run of the same pair.
    const pairRatios: number[] = [];
    const paired = runs.filter((r) => r.kind !== 'archive-no-stored-hash');
    for (let i = 0; i + 1 < paired.length; i += 2) {
      const a = paired[i]!;
      const b = paired[i + 1]!;
      const [cp, ar] = a.kind === 'cp' ? [a, b] : [b, a];
      pairRatios.push(round(cp.ms / ar.ms, 3));
    }
    const ratioVsCp = round(cpMs / arMs, 3);
    return {
      config,
      mediaBytes,
      zipBytes,
      entries,
      runs,
      cp: { medianMs: round(cpMs, 1), medianMbPerS: round(mediaBytes / 1e3 / cpMs, 1) },
      archive: {
        medianMs: round(arMs, 1),
        medianMbPerS: round(mediaBytes / 1e3 / arMs, 1),
        cpuSecondsPerGB: cpu.length > 0 ? round((median(cpu)! / mediaBytes) * 1e9, 3) : null,
      },
      archiveWithoutStoredHashes: noHashMs === null ? null : { medianMs: round(noHashMs, 1), medianMbPerS: round(mediaBytes / 1e3 / noHashMs, 1) },
      ratioVsCp,
      pairRatios,
      verified,
      targetMet: ratioVsCp >= config.targetRatio,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** `unzip -t` (every CRC), and the manifest lists every other entry with a size and a SHA-256. */
async function verify(zip: string, input: ArchiveInput, entries: number): Promise<boolean> {
  await execFileAsync('unzip', ['-tq', zip], { maxBuffer: 16 * MiB });
  const names = (await execFileAsync('unzip', ['-Z1', zip], { maxBuffer: 16 * MiB })).stdout.split('\n').filter(Boolean);
  const manifestName = names.find((n) => n.endsWith('/manifest.json'));
  if (!manifestName || names.length !== entries) return false;
  const manifest = JSON.parse((await execFileAsync('unzip', ['-p', zip, manifestName], { maxBuffer: 16 * MiB })).stdout) as {
    files: Array<{ path: string; sizeBytes: number; sha256: string }>;
  };
  const mp4 = input.broadcasts.flatMap((b) => (b.replay?.hashes?.['replay.mp4'] ? [{ path: `broadcasts/${b.id}/replay.mp4`, ...b.replay.hashes['replay.mp4'] }] : []));
  return (
    manifest.files.length === entries - 1 &&
    manifest.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256) && f.sizeBytes >= 0) &&
    mp4.every((m) => manifest.files.some((f) => f.path === m.path && f.sha256 === m.sha256 && f.sizeBytes === m.sizeBytes))
  );
}

export function summary(r: ArchiveResult): Partial<LatestFigures> {
  return { archive: { ratioVsCp: r.ratioVsCp } };
}

export function describe(r: ArchiveResult): string[] {
  const mib = round(r.mediaBytes / MiB);
  return [
    `${r.config.replayBytes.length} replays, ${mib} MiB of media, warm page cache, ${r.config.runs} alternating runs each (medians): ` +
      `archive ${r.archive.medianMbPerS} MB/s (${r.archive.medianMs} ms), cp + sync ${r.cp.medianMbPerS} MB/s (${r.cp.medianMs} ms)`,
    `archive ÷ cp = ${r.ratioVsCp} (target ≥ ${r.config.targetRatio}: ${r.targetMet ? 'met' : 'NOT met'}); per pair ${r.pairRatios.join(', ')}`,
    `archive CPU ${r.archive.cpuSecondsPerGB ?? '?'} s per GB of media (all threads)` +
      (r.archiveWithoutStoredHashes ? `; without stored hashes (every file hashed again): ${r.archiveWithoutStoredHashes.medianMbPerS} MB/s` : ''),
    `zip ${round(r.zipBytes / MiB, 1)} MiB, ${r.entries} entries; unzip -t and manifest check: ${r.verified ? 'passed' : 'FAILED'}`,
  ];
}

export function chart(r: ArchiveResult): string {
  const pts = (kind: TimedRun['kind']) => r.runs.filter((x) => x.kind === kind).map((x) => [x.index + 1, x.mbPerS] as const);
  return chartDocument(
    `Archive throughput vs cp: ${round(r.mediaBytes / MiB)} MiB of media`,
    `${r.startedAt} · ${r.machine.cores} × ${r.machine.cpuModel} · archive ÷ cp ${r.ratioVsCp} (target ≥ ${r.config.targetRatio})`,
    [
      {
        title: 'Throughput per run (alternating)',
        xLabel: 'run',
        yLabel: 'MB/s of media',
        series: [
          { name: 'cp + sync', points: pts('cp'), style: 'dots' },
          { name: 'archive', points: pts('archive'), style: 'dots' },
          { name: 'archive, no stored hash', points: pts('archive-no-stored-hash'), style: 'dots' },
        ],
        hLines: [{ y: round(r.cp.medianMbPerS * r.config.targetRatio, 1), label: `${r.config.targetRatio} × cp median` }],
      },
      {
        title: 'Archive ÷ cp, per pair',
        xLabel: 'pair',
        yLabel: 'ratio',
        series: [{ name: 'cp time ÷ archive time', points: r.pairRatios.map((x, i) => [i + 1, x] as const) }],
        hLines: [{ y: r.config.targetRatio, label: 'target' }],
      },
    ],
  );
}
