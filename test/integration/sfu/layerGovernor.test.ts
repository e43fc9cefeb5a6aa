import dgram from 'node:dgram';
import { createWorker, type types as ms } from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { governLayers } from '../../../sfu/LayerGovernor.ts';
import { mediaCodecs } from '../../../sfu/mediaCodecs.ts';
import { viewerRtpCapabilities } from '../../../sfu/viewerCapabilities.ts';
import { rtcpReceiverReport } from '../../../testkit/plainPeers.ts';

/**
 * The layer governor against a real mediasoup worker: a simulcast VP8 producer (three SSRCs,
 * every packet a key frame) and one viewer consuming it with the capabilities sfu/Viewer
 * gives a browser (no transport-cc, no REMB). The viewer's receiver reports say how much it
 * lost; mediasoup turns them into the consumer's score, and the governor moves the layer the
 * consumer forwards.
 */
const PT = 96;
const SSRCS = [111_000, 222_000, 333_000];

function vp8KeyFrame(ssrc: number, seq: number, ts: number): Buffer {
  const b = Buffer.alloc(200, 0xab);
  b[0] = 0x80;
  b[1] = 0x80 | PT;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc, 8);
  b[12] = 0x10; // VP8 descriptor: start of partition 0
  b[13] = 0x00; // key frame
  b[14] = 0x00;
  b[15] = 0x00;
  b[16] = 0x9d;
  b[17] = 0x01;
  b[18] = 0x2a;
  b.writeUInt16LE(640, 19);
  b.writeUInt16LE(360, 21);
  return b;
}

/** An RTCP sender report (RFC 3550 6.4.1) without report blocks: mediasoup needs them to switch simulcast layers. */
function senderReport(ssrc: number, rtpTs: number, packets: number): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(b.length / 4 - 1, 2);
  b.writeUInt32BE(ssrc, 4);
  const ms = Date.now() + 2_208_988_800_000;
  b.writeUInt32BE(Math.floor(ms / 1000) >>> 0, 8);
  b.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 2 ** 32) >>> 0, 12);
  b.writeUInt32BE(rtpTs >>> 0, 16);
  b.writeUInt32BE(packets >>> 0, 20);
  b.writeUInt32BE((packets * 200) >>> 0, 24);
  return b;
}

const until = async (what: string, check: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('LayerGovernor with a real mediasoup consumer', () => {
  let worker: ms.Worker;
  const sockets: dgram.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];

  beforeAll(async () => {
    worker = await createWorker({ logLevel: 'none' });
  });
  afterAll(() => {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.close();
    worker.close();
  });

  it('steps down when the viewer reports loss and back up when it stops', { timeout: 60_000 }, async () => {
    const router = await worker.createRouter({ mediaCodecs });
    const ingest = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
    const producer = await ingest.produce({
      kind: 'video',
      rtpParameters: {
        codecs: [{ mimeType: 'video/VP8', payloadType: PT, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }],
        encodings: SSRCS.map((ssrc) => ({ ssrc })),
      },
    });
    const viewerTransport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
    const consumer = await viewerTransport.consume({
      producerId: producer.id,
      rtpCapabilities: viewerRtpCapabilities(router.rtpCapabilities),
      preferredLayers: { spatialLayer: 2 },
    });
    // No send-side estimate was negotiated.
    expect(consumer.rtpParameters.headerExtensions?.map((h) => h.uri).filter((u) => /transport-wide-cc|abs-send-time/.test(u))).toEqual([]);
    expect(consumer.rtpParameters.codecs[0]?.rtcpFeedback?.map((f) => f.type)).not.toContain('transport-cc');
    const errors: unknown[] = [];
    const governor = governLayers(consumer, 3, (e) => errors.push(e), { downBelow: 7, downAfterMs: 600, downEveryMs: 1_000, holdMs: 2_000, maxHoldMs: 8_000 });

    // The broadcaster: 3 layers, 50 packets/s each.
    const sender = dgram.createSocket('udp4');
    sockets.push(sender);
    let seq = 0;
    timers.push(
      setInterval(() => {
        seq += 1;
        SSRCS.forEach((ssrc, i) => sender.send(vp8KeyFrame(ssrc, seq + i * 10_000, seq * 1800), ingest.tuple.localPort, '127.0.0.1'));
        if (seq % 25 === 0) SSRCS.forEach((ssrc) => sender.send(senderReport(ssrc, seq * 1800, seq), ingest.tuple.localPort, '127.0.0.1'));
      }, 20),
    );

    // The viewer: counts what it gets, reports once per 200 ms with the loss it is told to report.
    const viewer = dgram.createSocket('udp4');
    sockets.push(viewer);
    await new Promise<void>((r) => viewer.bind(0, '127.0.0.1', () => r()));
    const consumerSsrc = consumer.rtpParameters.encodings?.[0]?.ssrc ?? 0;
    let highestSeq = 0;
    let received = 0;
    viewer.on('message', (m) => {
      // RTP, not RTCP (RFC 5761: RTCP packet types 192–223 in the second byte).
      if (m.length >= 12 && !(m[1]! >= 192 && m[1]! <= 223)) {
        received += 1;
        highestSeq = Math.max(highestSeq, m.readUInt16BE(2));
      }
    });
    let fraction = 0;
    let cumulative = 0;
    const report = () => {
      cumulative += Math.round((fraction / 256) * 10);
      viewer.send(
        rtcpReceiverReport(0x5151, [{ ssrc: consumerSsrc, fraction, cumulativeLost: cumulative, extHighestSeq: highestSeq, jitter: 0, lsr: 0, dlsr: 0 }]),
        viewerTransport.tuple.localPort,
        '127.0.0.1',
      );
    };
    report(); // tells the comedia transport where the viewer is
    timers.push(setInterval(report, 200));

    await until('media at the viewer', () => received > 20);
    expect(governor.layer).toBe(2);
    await until('the top layer forwarded', () => consumer.currentLayers?.spatialLayer === 2);

    // 40 % loss reported, for longer than downAfterMs: the score stays low, the governor steps down, mediasoup forwards a lower layer.
    fraction = 102;
    await until('a step down', () => governor.layer < 2);
    await until('a lower preferred layer in the worker', () => (consumer.preferredLayers?.spatialLayer ?? 2) < 2);
    await until('a lower layer forwarded', () => (consumer.currentLayers?.spatialLayer ?? 2) < 2);

    // The loss stops: after a clean hold the governor climbs back to the top.
    fraction = 0;
    await until('back at the top', () => governor.layer === 2, 30_000);
    await until('the top layer forwarded again', () => consumer.currentLayers?.spatialLayer === 2, 10_000);
    expect(errors).toEqual([]);

    consumer.close();
    // Closing the consumer closes the governor: later scores change nothing.
    governor.onScore(0);
    expect(governor.layer).toBe(2);
  });
});
