import type { Config } from '../../common/config.ts';
import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { RedisRpc } from '../../common/redisRpc.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { freeMb } from '../../common/disk.ts';
import type { ResultJob } from '../../common/jobs/results.ts';
import { TapResponseSchema, type TapRequest, type TapResponse, type TapStream } from '../../common/jobs/tap.ts';
import type { Storage } from '../../common/storage/Storage.ts';
import { recordingRunPrefix } from '../../common/storage/storageKeys.ts';
import { spawnRecorder } from '../media/ffmpeg.ts';
import { recorderArgs } from '../media/recorderArgs.ts';
import { buildSdp } from '../media/sdp.ts';
import { SRTP_CRYPTO_SUITE, newSrtpKey } from '../media/srtp.ts';
import { RUN_INFO, newRunId, writeRunInfo } from '../media/segments.ts';
import { allocatePortBlock, waitUntilBound } from './ports.ts';
import { SegmentUploader } from './SegmentUploader.ts';
import type { RecorderStats } from './RecorderStats.ts';
import type { TapEvents } from './TapEvents.ts';

export interface RecordDeps {
  /** The workers host's data directory: its free space is checked while recording. */
  dataDir: string;
  /** Where the runs go (`recordings/<broadcastId>/<runId>/…`), each segment as soon as it is finished. */
  storage: Storage;
  recording: Config['recording'];
  rpc: RedisRpc;
  /** Where tap requests go (tapChannels(prefix).rpc). */
  tapChannel: string;
  tapEvents: TapEvents;
  /** Counts segments and runs (/metrics). */
  stats?: RecorderStats | undefined;
  /** Sends a result to the signalling process (the `results` queue). */
  report: (result: ResultJob) => Promise<void>;
  logger: Logger;
  /** Aborted when this workers process shuts down: stop cleanly and hand the job over. */
  shutdown: AbortSignal;
}

/** How a recording ended. 'handover': this process is shutting down; another worker continues. */
export type RecordOutcome = 'ended' | 'disk-low' | 'sfu-gone' | 'handover';

/** Tap requests wait this long for an answer. */
const RPC_TIMEOUT_MS = 3000;
/** Heartbeat period while a run records. */
const HEARTBEAT_MS = 1000;
/**
 * A run whose SFU stops answering heartbeats this long is ended, and a new run is asked for:
 * the node that served the tap died, and the broadcast may already be on air on another node
 * (its broadcaster resumed there, docs/scale.md), whose tap the new run gets. As short as one
 * unanswered heartbeat, since every second waited here is a second missing from the replay.
 */
const HEARTBEAT_GIVE_UP_MS = RPC_TIMEOUT_MS;
/** With no signalling node answering for the broadcast this long, the recording ends. */
const NO_SFU_GIVE_UP_MS = 30_000;
/** Runs that die this fast this many times in a row make the attempt fail (BullMQ retries it with backoff). */
const QUICK_RUN_MS = 5000;
const MAX_QUICK_RUNS = 5;
/** Free disk space is checked this often while recording. */
const DISK_CHECK_MS = 2000;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Records one broadcast until it ends: asks the SFU for a tap, runs ffmpeg on it (one run),
 * and starts a new run whenever the tap closes under it (the broadcaster's tracks changed)
 * or ffmpeg dies. Every run lands in its own directory with its broadcast offset, so the
 * finalize job can lay the runs on the broadcast's timeline. ffmpeg writes into a local
 * directory of the storage (`spoolDir`: on local disk the recording's own directory, else a
 * temporary one) and each segment is stored as soon as it is finished (SegmentUploader), so
 * any workers host can finalize the recording and a crash loses at most the segment in flight.
 */
export async function recordBroadcast(broadcastId: BroadcastId, deps: RecordDeps): Promise<RecordOutcome> {
  const log = deps.logger.child({ broadcastId });
  const state = { announced: false, quickRuns: 0, lastAnswer: Date.now() };

  while (!deps.shutdown.aborted) {
    const free = await freeMb(deps.dataDir);
    if (free < deps.recording.minFreeMb) {
      await stopForDisk(broadcastId, free, deps);
      return 'disk-low';
    }
    const block = await allocatePortBlock(deps.recording.rtpMinPort, deps.recording.rtpMaxPort);
    let res: TapResponse;
    try {
      res = await tapCall(deps, {
        op: 'open',
        broadcastId,
        host: deps.recording.rtpHost,
        video: block.video,
        audio: block.audio,
        // ffmpeg sends its RTCP receiver reports unencrypted, so the SFU drops them; the key
        // still makes the SFU drop anyone else's RTCP sent to its tap.
        srtp: { cryptoSuite: SRTP_CRYPTO_SUITE, keyBase64: newSrtpKey() },
      });
      state.lastAnswer = Date.now();
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'UNAVAILABLE')) throw err;
      if (Date.now() - state.lastAnswer > NO_SFU_GIVE_UP_MS) {
        log.warn('no signalling node answers for this broadcast; ending the recording');
        return 'sfu-gone';
      }
      await sleep(1000, deps.shutdown);
      continue;
    }
    if (res.status === 'ended') return 'ended';
    if (res.status !== 'opened') {
      await sleep(500, deps.shutdown);
      continue;
    }
    const startedAt = Date.now();
    const outcome = await runOnce(broadcastId, res.tapId, res.streams, block.ports, state, deps, log);
    if (outcome !== 'next-run') return outcome;
    state.quickRuns = Date.now() - startedAt < QUICK_RUN_MS ? state.quickRuns + 1 : 0;
    if (state.quickRuns >= MAX_QUICK_RUNS) throw new Error(`the recorder failed ${MAX_QUICK_RUNS} times in a row`);
    if (state.quickRuns > 0) await sleep(500 * state.quickRuns, deps.shutdown);
  }
  return 'handover';
}

/** One ffmpeg run on one tap. */
async function runOnce(
  broadcastId: BroadcastId,
  tapId: string,
  streams: TapStream[],
  ports: number[],
  state: { announced: boolean; lastAnswer: number },
  deps: RecordDeps,
  log: Logger,
): Promise<RecordOutcome | 'next-run'> {
  const runId = newRunId();
  const spool = await deps.storage.spoolDir(recordingRunPrefix(broadcastId, runId));
  const runDir = spool.path;
  const closed = deps.tapEvents.watch(tapId, broadcastId);
  const host = deps.recording.rtpHost;
  // An H.264 run's MP4 copies its video; its audio is encoded to AAC while recording, so
  // finalize only remuxes (recorderArgs `aac`). VP8 runs are transcoded at finalize anyway.
  const aac = streams.some((s) => s.kind === 'video' && s.mimeType.toLowerCase() === 'video/h264') && streams.some((s) => s.kind === 'audio');
  const recorder = spawnRecorder(recorderArgs({ localAddress: host, outDir: runDir, segmentSeconds: deps.recording.segmentSeconds, aac }), {
    cwd: runDir,
    // The SDP holds the SRTP keys: through ffmpeg's stdin, never on disk.
    sdp: buildSdp({ host, streams }),
    // Stopping sends an SRTCP BYE too, so ffmpeg ends at once even when no packet comes any more.
    wake: { host, streams: streams.map((s) => ({ rtpPort: s.rtpPort, srtpKeyBase64: s.srtp.keyBase64 })) },
  });
  const runLog = log.child({ runId, tapId, ffmpegPid: recorder.pid });
  const uploader = new SegmentUploader({ spool, logger: runLog, stats: deps.stats });
  uploader.start();
  // Set when ffmpeg exits, while the code below awaits (the cast keeps TS from narrowing it to false).
  let exited = false as boolean;
  void recorder.exited.then(() => (exited = true));
  let finishing: Promise<RecordOutcome | 'next-run'> | undefined;
  const finish = (outcome: RecordOutcome | 'next-run', why: string): Promise<RecordOutcome | 'next-run'> =>
    (finishing ??= (async () => {
      closed.dispose();
      const result = await recorder.stop();
      // Not awaited: a dead SFU would hold the next run back for the call's timeout, and a tap
      // nobody closes is closed by its lease.
      if (outcome !== 'ended') void tapCall(deps, { op: 'close', tapId }).catch(() => undefined);
      let segments: number;
      try {
        segments = await uploader.finish();
      } catch (err) {
        // Not released: what could not be stored stays where it is.
        runLog.error({ err, why, outcome }, 'recorder run ended; segments could not be stored');
        throw err;
      }
      await spool.release();
      deps.stats?.runEnded(outcome);
      runLog.info({ why, outcome, code: result.code, signal: result.signal, segments }, 'recorder run ended');
      if (why === 'ffmpeg-exited') runLog.warn({ stderr: result.stderrTail }, 'ffmpeg exited on its own');
      return outcome;
    })());

  if (!(await waitUntilBound(ports, 5000)) || exited) return finish('next-run', 'ffmpeg-exited');
  let resumed: TapResponse;
  try {
    resumed = await tapCall(deps, { op: 'resume', tapId });
  } catch {
    return finish('next-run', 'no-answer');
  }
  if (resumed.status !== 'resumed') return finish('next-run', `tap ${resumed.status}`);
  try {
    await writeRunInfo(runDir, { runId, offsetMs: resumed.offsetMs, startedAt: new Date().toISOString() });
    await spool.store(RUN_INFO);
    runLog.info({ offsetMs: resumed.offsetMs, kinds: streams.map((s) => s.kind), aac }, 'recorder run started');
    if (!state.announced) {
      state.announced = true;
      await deps.report({ type: 'recording', broadcastId, state: 'started', reason: null });
    }
  } catch (err) {
    // The run cannot be used (its run.json is not stored) or not announced: stop it, keep what it wrote.
    await finish('next-run', 'error').catch(() => undefined);
    throw err;
  }

  let lastDiskCheck = Date.now();
  let lastHeartbeat = Date.now();
  for (;;) {
    const event = await Promise.race([
      closed.reason.then((reason) => ({ kind: 'closed' as const, reason })),
      recorder.exited.then(() => ({ kind: 'exited' as const })),
      sleep(HEARTBEAT_MS, deps.shutdown).then(() => ({ kind: 'tick' as const })),
    ]);
    if (event.kind === 'closed') return finish(event.reason === 'ended' ? 'ended' : 'next-run', `tap closed: ${event.reason}`);
    if (event.kind === 'exited') return finish('next-run', 'ffmpeg-exited');
    if (deps.shutdown.aborted) return finish('handover', 'shutdown');
    // An announcement that the tap closed ends the wait for an answer (its SFU may be dead).
    const answer = await Promise.race([
      tapCall(deps, { op: 'heartbeat', tapId }).then(
        (hb) => ({ kind: 'answer' as const, hb }),
        () => ({ kind: 'unanswered' as const }),
      ),
      closed.reason.then((reason) => ({ kind: 'closed' as const, reason })),
    ]);
    if (answer.kind === 'closed') return finish(answer.reason === 'ended' ? 'ended' : 'next-run', `tap closed: ${answer.reason}`);
    if (answer.kind === 'answer') {
      lastHeartbeat = Date.now();
      state.lastAnswer = lastHeartbeat;
      if (answer.hb.status === 'closed') return finish(answer.hb.reason === 'ended' ? 'ended' : 'next-run', `tap closed: ${answer.hb.reason}`);
    } else if (Date.now() - lastHeartbeat > HEARTBEAT_GIVE_UP_MS) {
      return finish('next-run', 'heartbeats unanswered');
    }
    if (Date.now() - lastDiskCheck >= DISK_CHECK_MS) {
      lastDiskCheck = Date.now();
      const free = await freeMb(deps.dataDir);
      if (free < deps.recording.minFreeMb) {
        const outcome = await finish('disk-low', 'disk space low');
        await stopForDisk(broadcastId, free, deps);
        return outcome;
      }
    }
  }
}

async function stopForDisk(broadcastId: BroadcastId, free: number, deps: RecordDeps): Promise<void> {
  const reason = `Recording stopped: the disk has ${Math.floor(free)} MiB free, below the ${deps.recording.minFreeMb} MiB minimum. What was recorded so far is kept.`;
  deps.logger.warn({ broadcastId, freeMb: Math.floor(free) }, 'recording stopped for disk space');
  await deps.report({ type: 'recording', broadcastId, state: 'stopped', reason });
}

async function tapCall(deps: Pick<RecordDeps, 'rpc' | 'tapChannel'>, req: TapRequest): Promise<TapResponse> {
  const raw = await deps.rpc.call(deps.tapChannel, req, RPC_TIMEOUT_MS);
  const parsed = TapResponseSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid tap answer to ${req.op}: ${parsed.error.message}`);
  return parsed.data;
}
