import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mediaCodecs } from '../../sfu/index.ts';
import { RecordingTap } from '../../sfu/RecordingTap.ts';
import { TapStreamSchema } from '../../common/jobs/tap.ts';
import { runFfmpeg, spawnRecorder, type RecorderProcess } from '../../workers/media/ffmpeg.ts';
import { recorderArgs } from '../../workers/media/recorderArgs.ts';
import { buildSdp } from '../../workers/media/sdp.ts';
import { SRTP_CRYPTO_SUITE, newSrtpKey } from '../../workers/media/srtp.ts';
import { allocatePortBlock, waitUntilBound } from '../../workers/record/ports.ts';
import { silentLogger } from '../helpers/sfu.ts';
import { decodeAll, sleep, tmpDir } from '../integration/workers/mediaFixtures.ts';

const HOST = '127.0.0.1';

/** A VP8 sender over plain RTP: the broadcaster's stand-in, or the attacker. */
function vp8Sender(opts: { source: string; size: string; ssrc: number; port: number; rtcpPort: number; seconds: number }): ChildProcess {
  return spawn(
    'ffmpeg',
    [
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
      '-re', '-t', String(opts.seconds), '-f', 'lavfi', '-i', `${opts.source}:size=${opts.size}:rate=30`,
      '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '300k', '-g', '15', '-keyint_min', '15',
      '-payload_type', '96', '-ssrc', String(opts.ssrc),
      '-f', 'rtp', `rtp://127.0.0.1:${opts.port}?rtcpport=${opts.rtcpPort}&pkt_size=1200`,
    ],
    { stdio: 'ignore' },
  );
}

/** Local addresses (hex, as in /proc/net/udp{,6}) of every UDP socket bound to `port`. */
async function boundAddresses(port: number): Promise<string[]> {
  const out: string[] = [];
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (!local) continue;
      const [addr, hexPort] = local.split(':');
      if (Number.parseInt(hexPort!, 16) === port) out.push(`${file.endsWith('6') ? 'udp6' : 'udp'} ${addr}`);
    }
  }
  return out;
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

/**
 * The hop from the SFU to the recorder, attacked from the same host: a real mediasoup
 * router (fed VP8 by ffmpeg, as a broadcaster would feed it) records through the real
 * RecordingTap into a real recorder run (the record job's buildSdp, recorderArgs and
 * spawnRecorder) while an attacker sends its own VP8 over plain RTP to the recorder's ports.
 */
describe('security: the recorder ports', () => {
  let root: string;
  let worker: ms.Worker;
  let recorder: RecorderProcess | undefined;
  const senders: ChildProcess[] = [];

  beforeAll(async () => {
    root = await tmpDir('recorder-ports');
    worker = await mediasoup.createWorker({ logLevel: 'none', rtcMinPort: 40000, rtcMaxPort: 40999 });
  });
  afterAll(async () => {
    for (const s of senders) s.kill('SIGKILL');
    await recorder?.stop(100);
    worker?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('binds the RTP host only, records only the SFU\'s SRTP (an attacker\'s RTP is refused), and leaves no key on disk', async () => {
    const router = await worker.createRouter({ mediaCodecs });
    // The broadcaster: 320x240 test pattern, SSRC 1111, into a plain (comedia) transport.
    const ingest = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: HOST }, rtcpMux: false, comedia: true });
    const producer = await ingest.produce({
      kind: 'video',
      rtpParameters: {
        codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }] }],
        encodings: [{ ssrc: 1111 }],
      },
    });
    senders.push(
      vp8Sender({ source: 'testsrc2=alpha=0', size: '320x240', ssrc: 1111, port: ingest.tuple.localPort, rtcpPort: ingest.rtcpTuple!.localPort, seconds: 12 }),
    );

    // The record job's side of one run, as recordBroadcast does it.
    const block = await allocatePortBlock(41000, 41999);
    const tap = await RecordingTap.open({
      router,
      producers: [producer],
      listenIp: HOST,
      target: { ip: HOST, video: block.video, audio: block.audio, srtp: { cryptoSuite: SRTP_CRYPTO_SUITE, keyBase64: newSrtpKey() } },
      keyframeIntervalMs: 1000,
      logger: silentLogger(),
    });
    // What travels back over the tap RPC must pass the contract.
    const streams = tap.streams.map((s) => TapStreamSchema.parse(s));
    expect(streams).toHaveLength(1);
    const [video] = streams;
    expect(video!.sourceIp).toBe(HOST);
    const key = video!.srtp.keyBase64;
    const runDir = path.join(root, 'run');
    await mkdir(runDir);
    const stderr: string[] = [];
    recorder = spawnRecorder(recorderArgs({ localAddress: HOST, outDir: runDir, segmentSeconds: 2 }), {
      cwd: root,
      sdp: buildSdp({ host: HOST, streams }),
      onStderrLine: (line) => stderr.push(line),
      wake: { host: HOST, streams: streams.map((s) => ({ rtpPort: s.rtpPort, srtpKeyBase64: s.srtp.keyBase64 })) },
    });
    expect(await waitUntilBound([block.video.rtpPort, block.video.rtcpPort], 5000)).toBe(true);

    // (a) Both sockets are bound to the RTP host only: 127.0.0.1 is 0100007F; nothing on 0.0.0.0 or ::.
    for (const port of [block.video.rtpPort, block.video.rtcpPort]) {
      expect(await boundAddresses(port)).toEqual(['udp 0100007F']);
    }
    // The key is not in ffmpeg's argv (any local user can read /proc/<pid>/cmdline).
    expect(await readFile(`/proc/${recorder.pid}/cmdline`, 'utf8')).not.toContain(key);

    // (b) The attacker: a solid red 160x120 VP8 stream, SSRC 9999, plain RTP to the recorder's
    // ports, alone before the SFU starts sending (a recorder without SRTP records it then:
    // ffmpeg follows the first sequence numbers it sees) and on until after it stops.
    senders.push(
      vp8Sender({ source: 'color=c=red', size: '160x120', ssrc: 9999, port: block.video.rtpPort, rtcpPort: block.video.rtcpPort, seconds: 30 }),
    );
    // Its packets have reached ffmpeg and failed SRTP authentication before the SFU sends.
    for (let i = 0; i < 300 && !stderr.join('\n').includes('HMAC mismatch'); i++) await sleep(50);
    expect(stderr.join('\n')).toContain('HMAC mismatch');
    await tap.resume();
    await sleep(6000);
    const exit = await recorder.stop();
    tap.close();
    expect(exit.signal).toBeNull();

    const segments = (await readdir(runDir)).filter((f) => /^seg-\d+\.mkv$/.test(f)).map((f) => path.join(runDir, f));
    expect(segments.length).toBeGreaterThan(0);
    let frames = 0;
    for (const seg of segments) {
      if ((await stat(seg)).size === 0) continue;
      await decodeAll(seg);
      const { stdout } = await runFfmpeg(
        ['-v', 'error', '-select_streams', 'v', '-show_entries', 'stream=codec_type,codec_name:frame=width,height', '-of', 'json', seg],
        { bin: 'ffprobe', timeoutMs: 30_000 },
      );
      const info = JSON.parse(stdout) as { streams: Array<{ codec_type: string; codec_name: string }>; frames: Array<{ width: number; height: number }> };
      expect(info.streams).toEqual([{ codec_type: 'video', codec_name: 'vp8' }]);
      // Every decoded frame is the SFU's 320x240: not one of the attacker's 160x120 frames.
      for (const f of info.frames) expect(`${f.width}x${f.height}`).toBe('320x240');
      frames += info.frames.length;
    }
    console.info(`recorded ${frames} frames of the SFU's stream; ffmpeg said: ${stderr.join(' | ')}`);
    expect(frames).toBeGreaterThan(0);

    // (c) No SDP and no key on disk.
    for (const file of await filesUnder(root)) {
      expect(file).not.toMatch(/\.sdp$/);
      expect((await readFile(file)).includes(key)).toBe(false);
    }
  }, 90_000);
});
