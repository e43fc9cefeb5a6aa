import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TapStream } from '../../../common/jobs/tap.ts';
import { assembleReplay } from '../../../workers/media/assemble.ts';
import { probe, runFfmpeg, spawnRecorder } from '../../../workers/media/ffmpeg.ts';
import { parseSegmentList, writeRunIndex } from '../../../workers/media/runIndex.ts';
import { recorderArgs } from '../../../workers/media/recorderArgs.ts';
import { buildSdp } from '../../../workers/media/sdp.ts';
import { SRTP_CRYPTO_SUITE, newSrtpKey, protectRtcp } from '../../../workers/media/srtp.ts';
import { writeRunInfo } from '../../../workers/media/segments.ts';
import { decodeAll, packetSpanMs, settlesWithin, sleep, startSender, tmpDir } from './mediaFixtures.ts';

const SEGMENT_SECONDS = 2;

/** Four consecutive free UDP ports (RTP/RTCP for video, then audio), starting even. */
async function freePorts(): Promise<number> {
  const isFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => {
        s.close();
        resolve(false);
      });
      s.bind(port, '0.0.0.0', () => s.close(() => resolve(true)));
    });
  for (;;) {
    const base = 30000 + 4 * Math.floor(Math.random() * 5000);
    if ((await Promise.all([0, 1, 2, 3].map((i) => isFree(base + i)))).every(Boolean)) return base;
  }
}

/** UDP ports bound on this host, from /proc/net/udp{,6}. */
async function boundUdpPorts(): Promise<Set<number>> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local) ports.add(Number.parseInt(local.split(':').pop()!, 16));
    }
  }
  return ports;
}

function streams(base: number, keys: { video: string; audio: string }, codec: 'vp8' | 'h264' = 'vp8'): TapStream[] {
  const h264 = { payloadType: 102, mimeType: 'video/H264', parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } };
  const srtp = (keyBase64: string) => ({ cryptoSuite: SRTP_CRYPTO_SUITE, keyBase64 });
  return [
    {
      kind: 'video', payloadType: 96, mimeType: 'video/VP8', clockRate: 90000, parameters: {}, rtpPort: base, rtcpPort: base + 1,
      srtp: srtp(keys.video), sourceIp: '127.0.0.1', ...(codec === 'h264' ? h264 : {}),
    },
    {
      kind: 'audio', payloadType: 111, mimeType: 'audio/opus', clockRate: 48000, channels: 2,
      parameters: { minptime: 10, useinbandfec: 1 }, rtpPort: base + 2, rtcpPort: base + 3, srtp: srtp(keys.audio), sourceIp: '127.0.0.1',
    },
  ];
}

async function segmentsIn(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((f) => /^seg-\d+\.mkv$/.test(f)).sort();
  const out: string[] = [];
  for (const n of names) if ((await stat(path.join(dir, n))).size > 0) out.push(path.join(dir, n));
  return out;
}

/** The MD5 of every AAC packet of the input's first audio stream (not decoded: `-c copy -f framemd5`). */
async function packetHashes(input: string[]): Promise<string[]> {
  const { stdout } = await runFfmpeg([...input, '-map', '0:a:0', '-c', 'copy', '-f', 'framemd5', '-'], { timeoutMs: 60_000 });
  return stdout
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(',').at(-1)!.trim());
}

/** Each stream's duration (s) in a file, from its packets: last pts + duration − first pts. */
async function streamDurations(file: string): Promise<{ video: number; audio: number }> {
  const span = async (select: string) => {
    const { stdout } = await runFfmpeg(['-v', 'error', '-select_streams', select, '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', file], {
      bin: 'ffprobe',
      timeoutMs: 30_000,
    });
    const rows = stdout.split('\n').map((l) => l.split(',').map(Number)).filter(([pts]) => Number.isFinite(pts));
    const starts = rows.map(([pts]) => pts!);
    const ends = rows.map(([pts, dur]) => pts! + (Number.isFinite(dur) ? dur! : 0));
    return Math.max(...ends) - Math.min(...starts);
  };
  return { video: await span('v:0'), audio: await span('a:0') };
}

const senderExited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null ? r() : p.once('exit', () => r())));

describe('recorder: real ffmpeg receiving RTP', () => {
  let root: string;
  const cleanup: Array<() => unknown> = [];
  beforeAll(async () => {
    root = await tmpDir('recorder');
  });
  afterEach(async () => {
    for (const fn of cleanup.splice(0)) await fn();
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** A recorder on fresh ports in its own directory; killed after the test. */
  async function startRecorder(name: string, opts: { wake?: boolean; noPacketTimeoutSeconds?: number; codec?: 'vp8' | 'h264'; aac?: boolean } = {}) {
    const dir = path.join(root, name);
    const base = await freePorts();
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const keys = { video: newSrtpKey(), audio: newSrtpKey() };
    const tracks = streams(base, keys, opts.codec);
    const args = recorderArgs({
      localAddress: '127.0.0.1',
      outDir: dir,
      segmentSeconds: SEGMENT_SECONDS,
      ...(opts.noPacketTimeoutSeconds ? { noPacketTimeoutSeconds: opts.noPacketTimeoutSeconds } : {}),
      ...(opts.aac ? { aac: true } : {}),
    });
    const spawnedAt = Date.now();
    const recorder = spawnRecorder(args, {
      cwd: dir,
      sdp: buildSdp({ host: '127.0.0.1', streams: tracks }),
      ...(opts.wake ? { wake: { host: '127.0.0.1', streams: tracks.map((s) => ({ rtpPort: s.rtpPort, srtpKeyBase64: s.srtp.keyBase64 })) } } : {}),
    });
    cleanup.push(() => recorder.stop(100));
    // ffmpeg binds RTP and RTCP for both streams before it waits for packets.
    const ports = [base, base + 1, base + 2, base + 3];
    for (;;) {
      const bound = await boundUdpPorts();
      if (ports.every((p) => bound.has(p))) break;
      if (await settlesWithin(recorder.exited, 0)) throw new Error(`ffmpeg exited: ${(await recorder.exited).stderrTail}`);
      await sleep(10);
    }
    const bindMs = Date.now() - spawnedAt;
    return { dir, base, keys, recorder, bindMs };
  }

  function send(
    { base, keys }: { base: number; keys: { video: string; audio: string } },
    seconds?: number,
    codec: 'vp8' | 'h264' = 'vp8',
  ): ChildProcess {
    const sender = startSender({ videoPort: base, audioPort: base + 2, keys, codec, ...(seconds ? { seconds } : {}) });
    cleanup.unshift(async () => {
      if (sender.exitCode === null && sender.signalCode === null) {
        sender.kill('SIGCONT');
        sender.kill('SIGKILL');
        await senderExited(sender);
      }
    });
    return sender;
  }

  it('records VP8 + Opus into decodable segments, rides out a 2 s pause, and stops cleanly', async () => {
    const rec = await startRecorder('main', { wake: true });
    const { dir, recorder, bindMs } = rec;
    console.info(`ffmpeg bound its 4 UDP ports ${bindMs} ms after spawn`);
    const sender = send(rec);
    const sendingSince = Date.now();
    await sleep(3000);
    sender.kill('SIGSTOP'); // no packets for 2 s
    await sleep(2000);
    sender.kill('SIGCONT');
    const pauseEndedAt = Date.now();
    expect(await settlesWithin(recorder.exited, 0)).toBe(false);
    await sleep(3000);
    expect(await settlesWithin(recorder.exited, 0)).toBe(false);

    const stopAt = Date.now();
    const result = await recorder.stop();
    const sentMs = stopAt - sendingSince;
    console.info(`recorder stopped ${Date.now() - stopAt} ms after stop() (code ${result.code})`);
    expect(result.signal).toBeNull();
    expect([0, 255]).toContain(result.code); // 255: "Exiting normally, received signal 2"

    const segments = await segmentsIn(dir);
    // At least two segments (how many depends on how much the sender managed to send on a loaded machine).
    expect(segments.length).toBeGreaterThanOrEqual(2);
    let totalMs = 0;
    for (const seg of segments) {
      const p = await probe(seg);
      expect(p.formatName).toContain('matroska');
      expect(p.streams.map((s) => s.codecName).sort()).toEqual(['opus', 'vp8']);
      expect(p.streams.find((s) => s.codecType === 'video')).toMatchObject({ width: 640, height: 360 });
      await decodeAll(seg);
      const span = await packetSpanMs(seg);
      expect(span).toBeLessThanOrEqual(SEGMENT_SECONDS * 1000 + 2500);
      totalMs += span;
    }
    // Media from before and after the pause was recorded, and no more than was sent. (How much
    // the sender manages to send depends on the machine's load; the e2e test checks the
    // recorded duration against a real broadcast.)
    expect(totalMs).toBeGreaterThan(2000);
    expect(totalMs).toBeLessThan(sentMs + 1000);
    const lastWrite = Math.max(...(await Promise.all(segments.map(async (seg) => (await stat(seg)).mtimeMs))));
    expect(lastWrite).toBeGreaterThan(pauseEndedAt);
    const csv = await readFile(path.join(dir, 'segments.csv'), 'utf8');
    expect(csv).toContain('seg-00000.mkv');
  }, 60_000);

  it('records H.264 + Opus, and the recording assembles into a replay', async () => {
    const rec = await startRecorder(path.join('h264-recording', 'h264'), { wake: true, codec: 'h264' });
    const { dir, recorder } = rec;
    send(rec, undefined, 'h264');
    await sleep(5000);
    const result = await recorder.stop();
    expect(result.signal).toBeNull();
    const segments = await segmentsIn(dir);
    expect(segments.length).toBeGreaterThanOrEqual(2);
    for (const seg of segments) {
      expect((await probe(seg)).streams.map((s) => s.codecName).sort()).toEqual(['h264', 'opus']);
      await decodeAll(seg);
    }
    expect((await readdir(dir)).filter((f) => f.startsWith('aac-'))).toEqual([]);
    await writeRunInfo(dir, { runId: 'h264', offsetMs: 2500, startedAt: new Date().toISOString() });
    const recordedMs = (await Promise.all(segments.map(packetSpanMs))).reduce((a, b) => a + b, 0);
    const replayDir = path.join(root, 'h264-replay');
    let mp4Info: { video: string; audio: string } | undefined;
    const out = await assembleReplay({ recordingDir: path.join(root, 'h264-recording'), replayDir, onMp4: (info) => (mp4Info = info) });
    expect(out).toMatchObject({ webm: null, width: 640, height: 360, hls: 'hls/index.m3u8' });
    expect(out.timeline).toEqual([{ offsetMs: 2500, mediaStartMs: 0, durationMs: out.durationMs }]);
    expect(Math.abs(out.durationMs - recordedMs)).toBeLessThanOrEqual(500);
    // Recorded without AAC (as before the recorder wrote it): finalize encodes the audio.
    expect(mp4Info).toMatchObject({ video: 'copy', audio: 'encode' });
    const mp4 = await probe(path.join(replayDir, 'replay.mp4'));
    expect(mp4.streams.map((s) => s.codecName).sort()).toEqual(['aac', 'h264']);
    expect(Math.abs(mp4.durationMs! - out.durationMs)).toBeLessThanOrEqual(500);
  }, 60_000);

  it('with aac, also encodes the audio to AAC segments of its own while recording; finalize copies them into the MP4', async () => {
    const rec = await startRecorder(path.join('aac-recording', 'aac'), { wake: true, codec: 'h264', aac: true });
    const { dir, recorder } = rec;
    send(rec, undefined, 'h264');
    await sleep(6000);
    const result = await recorder.stop();
    expect(result.signal).toBeNull();
    expect([0, 255]).toContain(result.code);
    // The video segments are what they are without the AAC output: H.264 and Opus, copied.
    const segments = await segmentsIn(dir);
    expect(segments.length).toBeGreaterThanOrEqual(2);
    for (const seg of segments) expect((await probe(seg)).streams.map((s) => s.codecName).sort()).toEqual(['h264', 'opus']);
    const aacSegments = (await readdir(dir)).filter((f) => /^aac-\d+\.mka$/.test(f)).sort();
    expect(aacSegments.length).toBeGreaterThanOrEqual(2);
    for (const seg of aacSegments) {
      const p = await probe(path.join(dir, seg));
      expect(p.streams.map((s) => s.codecName)).toEqual(['aac']);
      await decodeAll(path.join(dir, seg));
    }
    // The index, as SegmentUploader writes it from ffmpeg's two lists.
    const list = async (name: string, kind: 'video' | 'aac') => parseSegmentList(await readFile(path.join(dir, name), 'utf8'), kind);
    const index = { version: 1 as const, segments: await list('segments.csv', 'video'), aac: await list('aac.csv', 'aac') };
    expect(index.segments.map((e) => path.join(dir, e.file))).toEqual(segments);
    expect(index.aac.map((e) => e.file)).toEqual(aacSegments);
    await writeRunIndex(dir, index);
    await writeRunInfo(dir, { runId: 'aac', offsetMs: 1000, startedAt: new Date().toISOString() });

    const replayDir = path.join(root, 'aac-replay');
    let mp4Info: { video: string; audio: string } | undefined;
    const out = await assembleReplay({ recordingDir: path.join(root, 'aac-recording'), replayDir, onMp4: (info) => (mp4Info = info) });
    // Nothing was encoded at finalize: video and audio copied.
    expect(mp4Info).toMatchObject({ video: 'copy', audio: 'copy' });
    const mp4File = path.join(replayDir, 'replay.mp4');
    // The MP4's audio frames are the recorded AAC frames, byte for byte (an encode would change them all).
    const recordedList = path.join(root, 'aac-recorded.txt');
    await writeFile(recordedList, `ffconcat version 1.0\n${aacSegments.map((f) => `file '${path.join(dir, f)}'`).join('\n')}\n`);
    const recordedAac = await packetHashes(['-f', 'concat', '-safe', '0', '-i', recordedList]);
    const mp4Aac = await packetHashes(['-i', mp4File]);
    expect(mp4Aac.length).toBeGreaterThan(150);
    expect(recordedAac.slice(0, mp4Aac.length)).toEqual(mp4Aac);
    expect(recordedAac.length - mp4Aac.length).toBeLessThanOrEqual(25); // the tail past the video's end is cut (-t)
    // Audio and video last as long as each other (±0.3 s) and as the run.
    const streams = await streamDurations(mp4File);
    expect(Math.abs(streams.audio - streams.video)).toBeLessThanOrEqual(0.3);
    expect(Math.abs(streams.video * 1000 - out.durationMs)).toBeLessThanOrEqual(300);
    await decodeAll(mp4File);
  }, 60_000);

  it('with aac and an audio stream that never sends: the video is still recorded, and finalize encodes the audio', async () => {
    const rec = await startRecorder(path.join('mute-recording', 'mute'), { wake: true, codec: 'h264', aac: true });
    const { dir, recorder } = rec;
    // The audio goes to a port the recorder does not listen on.
    const sender = startSender({ videoPort: rec.base, audioPort: rec.base + 100, keys: rec.keys, codec: 'h264' });
    cleanup.unshift(async () => {
      if (sender.exitCode === null && sender.signalCode === null) {
        sender.kill('SIGKILL');
        await senderExited(sender);
      }
    });
    await sleep(9000);
    const result = await recorder.stop();
    expect(result.signal).toBeNull();
    expect([0, 255]).toContain(result.code);
    const segments = await segmentsIn(dir);
    expect(segments.length).toBeGreaterThanOrEqual(2);
    for (const seg of segments) await decodeAll(seg);
    const index = {
      version: 1 as const,
      segments: parseSegmentList(await readFile(path.join(dir, 'segments.csv'), 'utf8')),
      aac: parseSegmentList(await readFile(path.join(dir, 'aac.csv'), 'utf8').catch(() => ''), 'aac'),
    };
    await writeRunIndex(dir, index);
    await writeRunInfo(dir, { runId: 'mute', offsetMs: 0, startedAt: new Date().toISOString() });
    let mp4Info: { video: string; audio: string } | undefined;
    const out = await assembleReplay({ recordingDir: path.join(root, 'mute-recording'), replayDir: path.join(root, 'mute-replay'), onMp4: (info) => (mp4Info = info) });
    // No AAC was recorded (its output holds no packet): the audio is encoded (silence), as before.
    expect(mp4Info).toMatchObject({ video: 'copy', audio: 'encode' });
    expect(out.durationMs).toBeGreaterThan(2000);
    await decodeAll(path.join(root, 'mute-replay', 'replay.mp4'));
  }, 60_000);

  it('stop() ends a recorder whose input went quiet at once (RTCP BYE), trailer written', async () => {
    const rec = await startRecorder('quiet', { wake: true });
    const { dir, recorder } = rec;
    await senderExited(send(rec, 3));
    await sleep(500);
    expect(await settlesWithin(recorder.exited, 0)).toBe(false);
    // Without the BYE, ffmpeg would block for its 30 s no-packet timeout and be SIGKILLed at 10 s.
    const result = await recorder.stop(10_000);
    expect(result.signal).toBeNull();
    expect([0, 255]).toContain(result.code);
    const segments = await segmentsIn(dir);
    const last = await probe(segments[segments.length - 1]!);
    expect(last.durationMs).not.toBeNull(); // Matroska trailer (duration, cues) written
  }, 60_000);

  it('stop() SIGKILLs a recorder that does not end in time', async () => {
    const rec = await startRecorder('stuck');
    const { recorder } = rec;
    await senderExited(send(rec, 2));
    // No packets and no BYE: after SIGINT ffmpeg waits for a packet or its 30 s timeout.
    const result = await recorder.stop(1500);
    expect(result.signal).toBe('SIGKILL');
    // stop() is idempotent: the same result, no second SIGINT.
    expect(await recorder.stop()).toBe(result);
  }, 60_000);

  it('ends on its own after noPacketTimeoutSeconds without packets', async () => {
    const rec = await startRecorder('timeout', { noPacketTimeoutSeconds: 2 });
    const { dir, recorder } = rec;
    await senderExited(send(rec, 2));
    expect(await settlesWithin(recorder.exited, 20_000)).toBe(true);
    const result = await recorder.exited;
    expect(result.signal).toBeNull();
    expect(result.stderrTail).toContain('Connection timed out');
    expect((await segmentsIn(dir)).length).toBeGreaterThan(0);
  }, 60_000);
});

describe('recorder: parent death', () => {
  let root: string;
  let child: ChildProcess | undefined;
  let ffmpegPid: number | undefined;
  const cleanup: Array<() => unknown> = [];
  beforeAll(async () => {
    root = await tmpDir('pdeathsig');
  });
  afterEach(async () => {
    child?.kill('SIGKILL');
    child = undefined;
    if (ffmpegPid) {
      try {
        process.kill(ffmpegPid, 'SIGKILL');
      } catch {
        // already gone
      }
      ffmpegPid = undefined;
    }
    for (const fn of cleanup.splice(0)) await fn();
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  const alive = async (pid: number) => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    return stat !== null && !/^\d+ \(.*\) Z/.test(stat); // a zombie has exited
  };

  /** recorder.child.ts with `args` (and the SDP on ffmpeg's stdin): ffmpeg's pid once it runs. */
  async function startChild(args: string[], sdp?: string): Promise<number> {
    const script = fileURLToPath(new URL('./recorder.child.ts', import.meta.url));
    const sdpArgs: string[] = [];
    if (sdp !== undefined) {
      const file = path.join(root, `${Date.now()}.sdp`);
      await writeFile(file, sdp);
      sdpArgs.push('--sdp', file);
    }
    const c = spawn(process.execPath, ['--import', 'tsx', script, ...sdpArgs, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    child = c;
    const line = await new Promise<string>((resolve, reject) => {
      c.stdout?.setEncoding('utf8').once('data', (d: string) => resolve(d));
      c.once('exit', () => reject(new Error('child exited early')));
    });
    ffmpegPid = (JSON.parse(line) as { pid: number }).pid;
    return ffmpegPid;
  }

  /** Kills the node parent with SIGKILL; whether its ffmpeg is gone within `ms`. */
  async function killParent(pid: number, ms: number): Promise<boolean> {
    child?.kill('SIGKILL');
    for (const end = Date.now() + ms; Date.now() < end; ) {
      if (!(await alive(pid))) return true;
      await sleep(50);
    }
    return !(await alive(pid));
  }

  it(
    'a recorder whose node parent is killed with kill -9 exits, its file readable up to the kill',
    async () => {
      const out = path.join(root, 'out.mkv');
      // Clusters flushed as they close, as the recorder does (recorderArgs: flush_packets=1).
      const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-c:a', 'flac', '-f', 'matroska', '-cluster_time_limit', '250', '-flush_packets', '1', out];
      const pid = await startChild(args);
      // Let it record until a second of audio is on disk.
      const written = async () => (existsSync(out) ? (await stat(out)).size : 0);
      for (let i = 0; i < 300 && (await written()) < 100_000; i++) await sleep(50);
      expect(await written()).toBeGreaterThanOrEqual(100_000);
      expect(await alive(pid)).toBe(true);

      expect(await killParent(pid, 15_000)).toBe(true);
      // ffmpeg did not run on orphaned, and what it wrote (no trailer: it was killed) is readable.
      await decodeAll(out);
      expect(await packetSpanMs(out)).toBeGreaterThan(500);
    },
    60_000,
  );

  it(
    'an RTP recorder that keeps receiving RTCP after its media stopped still exits when its parent is killed',
    async () => {
      // The case found orphaned after a CI run: after its media stopped, a recorder kept getting
      // RTCP, so its no-packet timeout never fired, and it does not look at a first SIGINT
      // while it waits in its RTP read; it ran on until the RTCP stopped.
      const dir = path.join(root, 'rtp');
      await mkdir(dir, { recursive: true });
      const base = await freePorts();
      const keys = { video: newSrtpKey(), audio: newSrtpKey() };
      const args = recorderArgs({ localAddress: '127.0.0.1', outDir: dir, segmentSeconds: SEGMENT_SECONDS, noPacketTimeoutSeconds: 3 });
      const pid = await startChild(args, buildSdp({ host: '127.0.0.1', streams: streams(base, keys) }));
      const sender = startSender({ videoPort: base, audioPort: base + 2, keys, seconds: 3 });
      cleanup.push(() => sender.kill('SIGKILL'));
      await senderExited(sender);
      // RTCP sender reports, as the SFU's consumers go on sending them, every 200 ms.
      const noise = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => noise.bind(0, '127.0.0.1', resolve));
      const senderReport = (ssrc: number) => {
        const sr = Buffer.alloc(28);
        sr.writeUInt16BE(0x80c8, 0); // V=2, no report blocks, PT 200 (SR)
        sr.writeUInt16BE(6, 2);
        sr.writeUInt32BE(ssrc, 4);
        sr.writeUInt32BE(Math.floor(Date.now() / 1000) + 2_208_988_800, 8);
        return sr;
      };
      const timer = setInterval(() => {
        noise.send(protectRtcp(senderReport(1111), keys.video), base + 1, '127.0.0.1');
        noise.send(protectRtcp(senderReport(2222), keys.audio), base + 3, '127.0.0.1');
      }, 200);
      cleanup.push(() => (clearInterval(timer), noise.close()));
      // Its no-packet timeout (3 s) passes with only RTCP arriving: it is still running.
      await sleep(4500);
      expect(await alive(pid)).toBe(true);
      expect((await segmentsIn(dir)).length).toBeGreaterThan(0);

      expect(await killParent(pid, 5000)).toBe(true);
      const [first] = await segmentsIn(dir);
      await decodeAll(first!);
    },
    60_000,
  );
});
