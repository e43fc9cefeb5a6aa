import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { CSinks, countersOf } from '../../bench/lib/csinks.ts';
import { RtpRelay } from '../../bench/lib/relay.ts';

/**
 * The fan-out's load generator: the C sink (compiled with the system's cc, real UDP sockets on
 * 127.0.0.1) and the relay's pacer. Counts and order only, no timing thresholds.
 */

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function udpSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  closers.push(() => s.close());
  return s;
}

function rtp(pt: number, seq: number, ts: number, size = 100): Buffer {
  const b = Buffer.alloc(size);
  b[0] = 0x80;
  b[1] = pt;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  return b;
}

function send(s: dgram.Socket, msg: Buffer, port: number): Promise<void> {
  return new Promise((resolve, reject) => s.send(msg, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await check()); i += 1) await sleep(25);
}

describe('bench: the fan-out C sink', () => {
  it('counts per viewer (source port) on shared sockets, extends sequence numbers, and reads its sockets’ drops', { timeout: 60_000 }, async () => {
    const sinks = await CSinks.start(2);
    closers.push(() => sinks.stop());
    await sinks.countPayloadTypes({ video: 101, audio: 100 });
    const ports = await sinks.open(3);
    // Two viewers per socket: the third viewer opens a second socket.
    expect(ports[0]).toBe(ports[1]);
    expect(ports[2]).not.toBe(ports[0]);
    expect(sinks.ports).toHaveLength(2);

    const [a, b] = [await udpSocket(), await udpSocket()];
    // Viewer a: video across the 16-bit wrap, audio with one timestamp shared with viewer b.
    for (const seq of [65534, 65535, 0, 1]) await send(a, rtp(101, seq, 0), ports[0]!);
    await send(a, rtp(100, 7, 960), ports[0]!);
    await send(b, rtp(100, 9, 960), ports[1]!);
    await send(b, rtp(120, 1, 0), ports[1]!);
    // RTCP (second byte 200: a sender report) is counted apart from RTP.
    const rtcp = Buffer.alloc(28);
    rtcp[0] = 0x80;
    rtcp[1] = 200;
    await send(b, rtcp, ports[1]!);

    const portA = a.address().port;
    const portB = b.address().port;
    await until(async () => countersOf(await sinks.snapshot(), portB).rtcp === 1 && countersOf(await sinks.snapshot(), portA).video === 4);
    const snap = await sinks.snapshot();
    expect(countersOf(snap, portA)).toEqual({ video: 4, audio: 1, videoSeq: 65537, audioSeq: 7, other: 0, rtcp: 0, bytes: 500 });
    expect(countersOf(snap, portB)).toMatchObject({ video: 0, audio: 1, videoSeq: -1, audioSeq: 9, other: 1, rtcp: 1 });
    // A viewer never seen has nothing.
    expect(countersOf(snap, 1)).toMatchObject({ video: 0, audio: 0, videoSeq: -1 });
    expect(sinks.drops()).toBe(0);
  });

  it('reports the spread of arrival delay of one audio packet over the viewers, then starts afresh', { timeout: 60_000 }, async () => {
    const sinks = await CSinks.start(8);
    closers.push(() => sinks.stop());
    await sinks.countPayloadTypes({ video: 101, audio: 100 });
    const [port] = await sinks.open(1);
    const viewers = [await udpSocket(), await udpSocket(), await udpSocket()];
    await sinks.snapshot();
    for (const [i, v] of viewers.entries()) await send(v, rtp(100, i, 48_000), port!);
    await until(async () => (await sinks.snapshot()).viewers.size === 3);
    await sinks.snapshot();
    // A new packet (timestamp) to every viewer: three samples, the first of them 0.
    for (const [i, v] of viewers.entries()) await send(v, rtp(100, 10 + i, 48_960), port!);
    let delay: Awaited<ReturnType<CSinks['snapshot']>>['delay'] = null;
    await until(async () => (delay = (await sinks.snapshot()).delay) !== null);
    expect(delay).toMatchObject({ samples: 3 });
    expect(delay!.maxUs).toBeGreaterThanOrEqual(delay!.p50Us);
    // Nothing since: no samples.
    expect((await sinks.snapshot()).delay).toBeNull();
  });
});

describe('bench: the relay’s pacer', () => {
  it('queues a burst of video and forwards all of it in order', { timeout: 30_000 }, async () => {
    const relay = await RtpRelay.open(2_000_000);
    closers.push(() => relay.close());
    const target = { video: await udpSocket(), videoRtcp: await udpSocket(), audio: await udpSocket(), audioRtcp: await udpSocket() };
    const got: number[] = [];
    target.video.on('message', (msg) => got.push(msg.readUInt16BE(2)));
    relay.target = {
      video: { ip: '127.0.0.1', port: target.video.address().port, rtcpPort: target.videoRtcp.address().port },
      audio: { ip: '127.0.0.1', port: target.audio.address().port, rtcpPort: target.audioRtcp.address().port },
    };
    const sender = await udpSocket();
    // A keyframe-sized burst: 60 packets of 1200 bytes, more than one 5 ms budget at 2 Mbit/s.
    for (let seq = 0; seq < 60; seq += 1) sender.send(rtp(101, seq, 0, 1200), relay.endpoints.video.port, '127.0.0.1');
    await until(async () => got.length === 60);
    expect(got).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(relay.maxQueued).toBeGreaterThan(1);
  });
});
