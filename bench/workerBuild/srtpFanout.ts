import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createWorker, type types as ms } from 'mediasoup';
import { z } from 'zod';
import { pin } from '../lib/cpus.ts';
import { processCpuSeconds, round } from '../lib/proc.ts';

/**
 * Micro-benchmark of the mediasoup worker BUILD (issue 12's worker-build levers), raw mediasoup
 * and no Spyglass code: one worker pinned to core 0, one synthetic VP8 producer (Node sends
 * RTP: every packet a whole key frame, so no keyframe wait), N viewers, each a PlainTransport
 * with SRTP AEAD_AES_256_GCM and one consumer created with the router's capabilities (so with
 * transport-cc, as browsers negotiate), all sending to one UDP sink that never reads (a
 * `python3` socket with a tiny receive buffer: the kernel drops, nobody spends CPU receiving).
 *
 *   tsx bench/workerBuild/srtpFanout.ts [--viewers 100,400] [--seconds 10] [--rounds 2]
 *       [--pps 100] [--bytes 1000] [--idle] [--perf] [--out file.json]
 *       --config 'label|/path/to/mediasoup-worker|uring=on|trials=...' ...
 *
 * Each --config is a worker binary (empty path: mediasoup's default) plus worker settings:
 * `uring=off` sets disableLiburing, `trials=` replaces libwebrtcFieldTrials, `bwe=off` consumes
 * with capabilities lacking transport-cc/REMB (no send-side bandwidth estimation, as an RTP sink). Every (round,
 * viewers, config) runs in its own child process (mediasoup reads MEDIASOUP_WORKER_BIN once),
 * configs interleaved so a busy machine's drift hits them alike. Figures: worker CPU µs per
 * packet sent (worker CPU from /proc over the window ÷ viewers × packets one sampled consumer
 * sent); with --idle no media flows and the figure is worker CPU ms per viewer per second.
 * --perf adds `perf record` of the worker over the window and prints the top symbols.
 */

const ConfigSchema = z.object({
  label: z.string().min(1),
  bin: z.string(),
  uring: z.boolean(),
  trials: z.string().optional(),
  bwe: z.boolean(),
});
type Config = z.infer<typeof ConfigSchema>;

const ChildArgsSchema = z.object({
  config: ConfigSchema,
  viewers: z.number().int().min(0).max(2000),
  seconds: z.number().positive().max(600),
  pps: z.number().int().positive().max(5000),
  bytes: z.number().int().min(100).max(1200),
  idle: z.boolean(),
  perf: z.boolean(),
});
type ChildArgs = z.infer<typeof ChildArgsSchema>;

const ResultSchema = z.object({
  label: z.string(),
  viewers: z.number(),
  idle: z.boolean(),
  seconds: z.number(),
  cpuCores: z.number(),
  packetsSent: z.number(),
  packetsProduced: z.number(),
  usPerPacket: z.number().nullable(),
  msPerViewerSecond: z.number().nullable(),
  uringEnabled: z.boolean(),
});
type Result = z.infer<typeof ResultSchema>;

const VP8_PT = 101;
const VP8_SSRC = 0x1234abcd;

function parseConfig(spec: string): Config {
  const [label = '', bin = '', ...opts] = spec.split('|');
  let uring = true;
  let trials: string | undefined;
  let bwe = true;
  for (const o of opts) {
    if (o === 'uring=on') uring = true;
    else if (o === 'uring=off') uring = false;
    else if (o === 'bwe=off') bwe = false;
    else if (o.startsWith('trials=')) trials = o.slice('trials='.length);
    else throw new Error(`E_BENCH_CONFIG: unknown option '${o}' in --config '${spec}'`);
  }
  return ConfigSchema.parse({ label, bin, uring, trials, bwe });
}

/** A sink that binds, prints its port and never reads: the kernel drops what overflows. */
async function startSink(): Promise<{ port: number; proc: ChildProcess }> {
  const code = [
    'import socket, sys, time',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)',
    "s.bind(('127.0.0.1', 0))",
    'print(s.getsockname()[1], flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const proc = spawn('python3', ['-c', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('error', reject);
    proc.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  if (!Number.isInteger(port) || port <= 0) throw new Error('E_BENCH_SINK: no port from the sink');
  return { port, proc };
}

/** One RTP packet carrying a (fake) whole VP8 key frame: descriptor S=1, frame tag P=0, start code. */
function vp8Packet(seq: number, ts: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes, 0xab);
  b[0] = 0x80;
  b[1] = 0x80 | VP8_PT; // marker: one packet per frame
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(VP8_SSRC, 8);
  b[12] = 0x10; // VP8 payload descriptor: S=1, partition 0
  b[13] = 0x00; // frame tag: key frame (P=0), version 0, show_frame 0
  b[14] = 0x00;
  b[15] = 0x00;
  b[16] = 0x9d; // key frame start code
  b[17] = 0x01;
  b[18] = 0x2a;
  b.writeUInt16LE(640, 19);
  b.writeUInt16LE(360, 21);
  return b;
}

async function consumerPackets(consumer: ms.Consumer): Promise<number> {
  const stats = await consumer.getStats();
  return stats.filter((s) => s.type === 'outbound-rtp').reduce((a, s) => a + s.packetCount, 0);
}

async function producerPackets(producer: ms.Producer): Promise<number> {
  const stats = await producer.getStats();
  return stats.reduce((a, s) => a + s.packetCount, 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runChild(args: ChildArgs): Promise<Result> {
  const { config } = args;
  const worker = await createWorker({
    logLevel: 'warn',
    disableLiburing: !config.uring,
    ...(config.trials !== undefined ? { libwebrtcFieldTrials: config.trials } : {}),
  });
  pin(worker.pid, 0);
  const sink = await startSink();
  const sender = dgram.createSocket('udp4');
  let timer: NodeJS.Timeout | undefined;
  let perf: ChildProcess | undefined;
  try {
    const dump = await worker.dump();
    const uringEnabled = dump.liburing !== undefined;
    const router = await worker.createRouter({ mediaCodecs: [{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }] });
    const ingest = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
    const producer = await ingest.produce({
      kind: 'video',
      rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: VP8_PT, clockRate: 90000 }], encodings: [{ ssrc: VP8_SSRC }] },
    });
    const caps: ms.RtpCapabilities = config.bwe
      ? router.rtpCapabilities
      : {
          codecs: (router.rtpCapabilities.codecs ?? []).map((c) => ({
            ...c,
            rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => f.type !== 'transport-cc' && f.type !== 'goog-remb'),
          })),
          headerExtensions: (router.rtpCapabilities.headerExtensions ?? []).filter((h) => !/transport-wide-cc|abs-send-time/.test(h.uri)),
        };
    const consumers: ms.Consumer[] = [];
    for (let i = 0; i < args.viewers; i++) {
      const t = await router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
        rtcpMux: true,
        comedia: false,
        enableSrtp: true,
        srtpCryptoSuite: 'AEAD_AES_256_GCM',
      });
      await t.connect({
        ip: '127.0.0.1',
        port: sink.port,
        srtpParameters: { cryptoSuite: 'AEAD_AES_256_GCM', keyBase64: randomBytes(44).toString('base64') },
      });
      consumers.push(await t.consume({ producerId: producer.id, rtpCapabilities: caps }));
    }
    const sample = consumers.slice(0, 3);
    if (!args.idle) {
      let seq = 0;
      let ts = 0;
      const perTick = args.pps / 100;
      let owed = 0;
      const port = ingest.tuple.localPort;
      timer = setInterval(() => {
        owed += perTick;
        for (; owed >= 1; owed--) {
          sender.send(vp8Packet(seq++, ts, args.bytes), port, '127.0.0.1');
          ts += Math.round(90000 / args.pps);
        }
      }, 10);
      const deadline = Date.now() + 10_000;
      while (sample.length > 0 && (await consumerPackets(sample[0]!)) === 0) {
        if (Date.now() > deadline) throw new Error('E_BENCH_NO_FLOW: no packet reached a consumer in 10 s');
        await sleep(100);
      }
    }
    await sleep(2000); // settle: timers started, first RTCP sent
    const sampleBefore = await Promise.all(sample.map(consumerPackets));
    const producedBefore = await producerPackets(producer);
    const cpuBefore = processCpuSeconds(worker.pid);
    const t0 = process.hrtime.bigint();
    if (args.perf) {
      perf = spawn('perf', ['record', '-o', `/tmp/wbuild-perf-${process.pid}.data`, '-p', String(worker.pid), '--', 'sleep', String(args.seconds)], { stdio: 'ignore' });
    }
    await sleep(args.seconds * 1000);
    const cpuAfter = processCpuSeconds(worker.pid);
    const t1 = process.hrtime.bigint();
    const sampleAfter = await Promise.all(sample.map(consumerPackets));
    const producedAfter = await producerPackets(producer);
    if (cpuBefore === null || cpuAfter === null) throw new Error('E_BENCH_PROC: no /proc reading of the worker');
    const seconds = Number(t1 - t0) / 1e9;
    const cpu = cpuAfter - cpuBefore;
    const perConsumer = sampleAfter.length === 0 ? 0 : sampleAfter.reduce((a, v, i) => a + (v - sampleBefore[i]!), 0) / sampleAfter.length;
    const packetsSent = Math.round(perConsumer * args.viewers);
    if (perf) {
      await new Promise((r) => perf?.once('exit', r));
      const report = execFileSync('perf', ['report', '-i', `/tmp/wbuild-perf-${process.pid}.data`, '--stdio', '--no-children', '--sort', 'dso,symbol'], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const top = report.split('\n').filter((l) => /^\s+\d/.test(l)).slice(0, 25);
      console.error(`[perf ${config.label} ${args.viewers} viewers]\n${top.join('\n')}`);
    }
    return ResultSchema.parse({
      label: config.label,
      viewers: args.viewers,
      idle: args.idle,
      seconds: round(seconds, 2),
      cpuCores: round(cpu / seconds, 3),
      packetsSent,
      packetsProduced: producedAfter - producedBefore,
      usPerPacket: args.idle || packetsSent === 0 ? null : round((cpu * 1e6) / packetsSent, 2),
      msPerViewerSecond: args.idle && args.viewers > 0 ? round((cpu * 1e3) / seconds / args.viewers, 3) : null,
      uringEnabled,
    });
  } finally {
    if (timer) clearInterval(timer);
    sender.close();
    sink.proc.stdin?.end();
    sink.proc.kill();
    worker.close();
  }
}

function spawnChild(args: ChildArgs): Promise<Result> {
  const env = { ...process.env };
  if (args.config.bin) env.MEDIASOUP_WORKER_BIN = args.config.bin;
  else delete env.MEDIASOUP_WORKER_BIN;
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', JSON.stringify(args)], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`E_BENCH_CHILD: ${args.config.label} with ${args.viewers} viewers exited ${code}`));
      try {
        resolve(ResultSchema.parse(JSON.parse(out.trim().split('\n').pop() ?? '')));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function valueOf(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
}

async function main(argv: string[]): Promise<number> {
  const childJson = valueOf(argv, '--child');
  if (childJson !== undefined) {
    const result = await runChild(ChildArgsSchema.parse(JSON.parse(childJson)));
    console.log(JSON.stringify(result));
    return 0;
  }
  const configs = argv.flatMap((a, i) => (a === '--config' && argv[i + 1] !== undefined ? [parseConfig(argv[i + 1]!)] : []));
  if (configs.length === 0) configs.push(parseConfig(`default|${process.env.MEDIASOUP_WORKER_BIN ?? ''}`));
  const viewers = (valueOf(argv, '--viewers') ?? '100,400').split(',').map(Number);
  const rounds = Number(valueOf(argv, '--rounds') ?? 2);
  const base = {
    seconds: Number(valueOf(argv, '--seconds') ?? 10),
    pps: Number(valueOf(argv, '--pps') ?? 100),
    bytes: Number(valueOf(argv, '--bytes') ?? 1000),
    idle: argv.includes('--idle'),
    perf: argv.includes('--perf'),
  };
  const results: Result[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const n of viewers) {
      for (const config of configs) {
        const result = await spawnChild(ChildArgsSchema.parse({ ...base, config, viewers: n }));
        console.error(`[worker-build] round ${r + 1} ${JSON.stringify(result)}`);
        results.push(result);
      }
    }
  }
  console.log(`| config | viewers | ${base.idle ? 'worker ms CPU / viewer / s' : 'worker µs CPU / packet sent'} | worker cores | sent / produced×viewers | io_uring |`);
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const n of viewers) {
    for (const config of configs) {
      const rs = results.filter((x) => x.viewers === n && x.label === config.label);
      const figure = median(rs.map((x) => (base.idle ? (x.msPerViewerSecond ?? 0) : (x.usPerPacket ?? 0))));
      const delivered = median(rs.map((x) => (x.packetsProduced > 0 ? x.packetsSent / (x.packetsProduced * n) : 0)));
      console.log(`| ${config.label} | ${n} | ${round(figure, 3)} | ${round(median(rs.map((x) => x.cpuCores)), 3)} | ${base.idle ? '—' : round(delivered, 3)} | ${rs[0]?.uringEnabled ? 'on' : 'off'} |`);
    }
  }
  const out = valueOf(argv, '--out');
  if (out) writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), base, configs, results }, null, 2)}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
