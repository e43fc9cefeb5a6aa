import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { protectRtcp } from './srtp.ts';

/**
 * The one place that starts ffmpeg and ffprobe (argv arrays, never a shell): short batch
 * commands (`runFfmpeg`, `probe`) and the long-running recorder (`spawnRecorder`).
 * See docs/recording.md ("Media pipeline") for the ffmpeg behaviour this relies on.
 */

const TAIL_LINES = 20;

/** Why a command failed: it exited non-zero, ran out of time, was aborted, or could not start. */
export type FfmpegFailure = 'exit' | 'timeout' | 'aborted' | 'spawn';

export class FfmpegError extends Error {
  override readonly name = 'FfmpegError';
  readonly kind: FfmpegFailure;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The last ~20 lines ffmpeg wrote to stderr. */
  readonly stderrTail: string;
  constructor(
    message: string,
    details: { kind: FfmpegFailure; exitCode: number | null; signal: string | null; stderrTail: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.kind = details.kind;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stderrTail = details.stderrTail;
  }
}

interface Finished {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderrTail: string;
  /** Set when the process could not be started at all. */
  spawnError: Error | null;
}

/**
 * What ffmpeg says for every concat file opened without a decoder on purpose (assemble.ts,
 * writeConcatList: `codec_whitelist none`), and its repeat notice: left out of the stderr tail,
 * which would otherwise hold nothing else.
 */
const UNPROBED = /not on whitelist 'none'$|^\s*Last message repeated \d+ times?$/;

/** Starts `command`, collects stdout (if asked) and the stderr tail, and resolves once it is gone. */
function launch(
  command: string,
  argv: string[],
  opts: {
    cwd?: string | undefined;
    captureStdout: boolean;
    onStderrLine?: ((line: string) => void) | undefined;
    /** Written to the child's stdin, which is then closed. */
    stdin?: string | undefined;
  },
): { child: ChildProcess; done: Promise<Finished> } {
  const child = spawn(command, argv, {
    cwd: opts.cwd,
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', opts.captureStdout ? 'pipe' : 'ignore', 'pipe'],
  });
  if (opts.stdin !== undefined && child.stdin) {
    // A child that dies before reading its stdin gives EPIPE; its exit tells why.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin);
  }
  const tail: string[] = [];
  let partial = '';
  const addLine = (line: string) => {
    if (!line || UNPROBED.test(line)) return;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    opts.onStderrLine?.(line);
  };
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split(/\r\n|\r|\n/);
    partial = lines.pop() ?? '';
    lines.forEach(addLine);
  });
  const stdout: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
  const done = new Promise<Finished>((resolve) => {
    let settled = false;
    const finish = (code: number | null, signal: string | null, spawnError: Error | null) => {
      if (settled) return;
      settled = true;
      addLine(partial);
      if (spawnError) addLine(`${command}: ${spawnError.message}`);
      resolve({ code, signal, stdout: stdout.join(''), stderrTail: tail.join('\n'), spawnError });
    };
    child.once('error', (err) => {
      // Only a failed spawn ends us here; errors of a running child (e.g. kill) arrive with 'close'.
      if (child.pid === undefined) finish(null, null, err);
    });
    child.once('close', (code, signal) => finish(code, signal, null));
  });
  return { child, done };
}

/** Global options put before the caller's: quiet, never read stdin, overwrite outputs (we write to temporary names). */
const FFMPEG_DEFAULTS = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y'];

/**
 * Runs ffmpeg (or ffprobe) to completion. ffmpeg gets `-hide_banner -nostdin -nostats
 * -loglevel error -y` before `args` (a later `-loglevel` in `args` wins); ffprobe gets
 * `-hide_banner`. The process is SIGKILLed on timeout or abort.
 * @throws FfmpegError on a non-zero exit, timeout, abort, or when it cannot start.
 */
export async function runFfmpeg(
  args: string[],
  opts: { timeoutMs: number; signal?: AbortSignal; cwd?: string; bin?: 'ffmpeg' | 'ffprobe' },
): Promise<{ stdout: string; stderrTail: string }> {
  const bin = opts.bin ?? 'ffmpeg';
  const fail = (message: string, kind: FfmpegFailure, r: Partial<Finished> = {}, cause?: unknown) =>
    new FfmpegError(
      message,
      { kind, exitCode: r.code ?? null, signal: r.signal ?? null, stderrTail: r.stderrTail ?? '' },
      cause === undefined ? undefined : { cause },
    );
  if (opts.signal?.aborted) throw fail(`${bin} not started: aborted`, 'aborted', {}, opts.signal.reason);

  const { child, done } = launch(bin, bin === 'ffmpeg' ? [...FFMPEG_DEFAULTS, ...args] : ['-hide_banner', ...args], {
    cwd: opts.cwd,
    captureStdout: true,
  });
  // Set by kill() from a timer or an abort while `done` is awaited (the cast keeps TS from narrowing it to null).
  let killedFor = null as 'timeout' | 'aborted' | null;
  const kill = (why: 'timeout' | 'aborted') => {
    if (killedFor) return;
    killedFor = why;
    child.kill('SIGKILL');
  };
  const timer = setTimeout(() => kill('timeout'), opts.timeoutMs);
  const onAbort = () => kill('aborted');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let r: Finished;
  try {
    r = await done;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (r.spawnError) throw fail(`${bin} could not start: ${r.spawnError.message}`, 'spawn', r, r.spawnError);
  if (killedFor === 'timeout') throw fail(`${bin} timed out after ${opts.timeoutMs} ms`, 'timeout', r);
  if (killedFor === 'aborted') throw fail(`${bin} aborted`, 'aborted', r, opts.signal?.reason);
  if (r.code !== 0) {
    const last = r.stderrTail.split('\n').pop() || 'no output';
    throw fail(`${bin} exited with ${r.code ?? r.signal}: ${last}`, 'exit', r);
  }
  return { stdout: r.stdout, stderrTail: r.stderrTail };
}

// ------------------------------------------------------------------------------ probe --

export interface ProbeStream {
  index: number;
  codecType: 'video' | 'audio' | (string & {});
  codecName: string;
  width?: number;
  height?: number;
}

export interface ProbeResult {
  /** The container's duration; null when unknown (e.g. a segment without its trailer). */
  durationMs: number | null;
  /** Timestamp of the first packet; segments keep their run's clock, so the second one starts near `segmentSeconds`. */
  startMs: number | null;
  formatName: string;
  streams: ProbeStream[];
}

const ProbeJsonSchema = z.object({
  format: z.object({ format_name: z.string(), duration: z.string().optional(), start_time: z.string().optional() }).optional(),
  streams: z
    .array(
      z.object({
        index: z.number(),
        codec_type: z.string().optional(),
        codec_name: z.string().optional(),
        width: z.number().optional(),
        height: z.number().optional(),
      }),
    )
    .optional(),
});

const toMs = (s: string | undefined): number | null => {
  const n = s === undefined ? NaN : Number.parseFloat(s);
  return Number.isFinite(n) ? Math.round(n * 1000) : null;
};

/** Container and streams of a media file, via `ffprobe -show_format -show_streams`. */
export async function probe(file: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ProbeResult> {
  const { stdout } = await runFfmpeg(['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file], {
    bin: 'ffprobe',
    timeoutMs: opts.timeoutMs ?? 30_000,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const json = ProbeJsonSchema.parse(JSON.parse(stdout));
  return {
    durationMs: toMs(json.format?.duration),
    startMs: toMs(json.format?.start_time),
    formatName: json.format?.format_name ?? '',
    streams: (json.streams ?? []).map((s) => ({
      index: s.index,
      codecType: s.codec_type ?? 'unknown',
      codecName: s.codec_name ?? 'unknown',
      ...(s.width ? { width: s.width } : {}),
      ...(s.height ? { height: s.height } : {}),
    })),
  };
}

// --------------------------------------------------------------------------- recorder --

export interface RecorderExit {
  code: number | null;
  signal: string | null;
  stderrTail: string;
}

export interface RecorderProcess {
  /** ffmpeg's pid (setpriv execs it in place). */
  pid: number;
  /** Resolves (never rejects) when ffmpeg is gone. */
  exited: Promise<RecorderExit>;
  /**
   * Sends exactly one SIGINT (ffmpeg then closes the segment and writes its trailer) plus,
   * when `wake` was given, an RTCP BYE to each RTP port so that ffmpeg notices at once even
   * if no packet arrives any more; SIGKILL after `timeoutMs` (default 5000). Idempotent.
   */
  stop(timeoutMs?: number): Promise<RecorderExit>;
}

const SETPRIV = '/usr/bin/setpriv';

/**
 * Starts a long-running ffmpeg (the recorder) with `args` (from recorderArgs). Through
 * `setpriv --pdeathsig SIGKILL` when available: if this process dies (even kill -9), the
 * kernel kills ffmpeg instead of letting it run on orphaned. Not SIGINT: ffmpeg reads a first
 * SIGINT only between packets, and while RTCP keeps arriving (the SFU's sender reports go on
 * after the media stops) it neither gets a packet nor reaches its no-packet timeout, so an
 * orphan ran on for 48 minutes after a CI run (test/integration/workers/recorder.test.ts).
 * What it loses is the crash's: the segment in progress has no trailer, readable up to its
 * last flushed cluster. The death signal follows the *thread* that spawned it: call this
 * from the main thread, not from a worker thread that may end first.
 * @param opts.sdp the SDP (with its SRTP keys), written to ffmpeg's stdin (recorderArgs reads `pipe:0`).
 * @param opts.wake where ffmpeg listens (the address it bound, the SDP's host) and, per
 *   stream, its RTP port and the SRTP key it decrypts with: stop() sends each an SRTCP BYE
 *   (see stop()), from `host` (the SDP's source filter lets it through).
 */
export function spawnRecorder(
  args: string[],
  opts: {
    cwd?: string;
    sdp?: string;
    onStderrLine?: (line: string) => void;
    wake?: { host: string; streams: Array<{ rtpPort: number; srtpKeyBase64: string }> };
  } = {},
): RecorderProcess {
  const [command, argv] = existsSync(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', 'ffmpeg', ...args]]
    : ['ffmpeg', args];
  const { child, done } = launch(command, argv, { cwd: opts.cwd, captureStdout: false, onStderrLine: opts.onStderrLine, stdin: opts.sdp });
  const pid = child.pid;
  if (pid === undefined) {
    throw new FfmpegError(`could not start ${command}`, { kind: 'spawn', exitCode: null, signal: null, stderrTail: '' });
  }
  const exited = done.then(({ code, signal, stderrTail }) => ({ code, signal, stderrTail }));
  let gone = false;
  void exited.then(() => (gone = true));
  let stopping: Promise<RecorderExit> | null = null;
  const stop = (timeoutMs = 5000): Promise<RecorderExit> => {
    stopping ??= (async () => {
      if (gone) return exited;
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      if (opts.wake) await sendRtcpBye(opts.wake.host, opts.wake.streams).catch(() => undefined);
      try {
        return await exited;
      } finally {
        clearTimeout(killer);
      }
    })();
    return stopping;
  };
  return { pid, exited, stop };
}

/**
 * Sends an SRTCP BYE, protected with the stream's key, to each stream's RTP port on `host`,
 * from `host`. ffmpeg's RTP demuxer ends its input (a clean EOF: trailer written, exit code
 * 0) once every stream got a BYE; it drops RTCP that fails SRTP authentication and RTCP
 * packets under 12 bytes, so the BYE is protected and carries a 3-byte reason.
 */
export async function sendRtcpBye(host: string, streams: Array<{ rtpPort: number; srtpKeyBase64: string }>): Promise<void> {
  const socket = dgram.createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  // V=2, one SSRC; PT 203 (BYE); length 2 (12 bytes); SSRC 0x5359; reason "end".
  const bye = Buffer.from([0x81, 203, 0, 2, 0, 0, 0x53, 0x59, 3, 0x65, 0x6e, 0x64]);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    for (const s of streams) {
      const packet = protectRtcp(bye, s.srtpKeyBase64);
      await new Promise<void>((resolve, reject) => socket.send(packet, s.rtpPort, host, (err) => (err ? reject(err) : resolve())));
    }
  } finally {
    socket.close();
  }
}
