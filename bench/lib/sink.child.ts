import dgram from 'node:dgram';
import { serveParent } from './child.ts';

/**
 * UDP sinks for the fan-out benchmark, in their own process so that their CPU is measured
 * apart from the SFU's: one plain dgram socket per viewer on 127.0.0.1, counting RTP packets
 * (by payload type: video, audio, other), RTCP packets and bytes. The media is SRTP: the
 * RTP header is in the clear, the payload is not decrypted.
 */

export type SinkRequest =
  | { type: 'open'; count: number; videoPayloadType: number; audioPayloadType: number; recvBufferBytes: number }
  | { type: 'snapshot' }
  | { type: 'closeAll' };

/** Cumulative counters, one entry per sink in the order they were opened. */
export interface SinkSnapshot {
  video: number[];
  audio: number[];
  other: number[];
  rtcp: number[];
  bytes: number[];
}

const sockets: dgram.Socket[] = [];
let counters: SinkSnapshot = { video: [], audio: [], other: [], rtcp: [], bytes: [] };

async function open(count: number, videoPt: number, audioPt: number, recvBufferBytes: number): Promise<number[]> {
  const ports: number[] = [];
  for (let n = 0; n < count; n += 1) {
    const i = sockets.length;
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: recvBufferBytes });
    counters.video[i] = 0;
    counters.audio[i] = 0;
    counters.other[i] = 0;
    counters.rtcp[i] = 0;
    counters.bytes[i] = 0;
    const { video, audio, other, rtcp, bytes } = counters;
    socket.on('message', (msg) => {
      bytes[i]! += msg.length;
      const b = msg[1] ?? 0;
      // RFC 5761 demultiplexing: second byte 192..223 is RTCP (SRTCP here).
      if (b >= 192 && b <= 223) rtcp[i]! += 1;
      else if ((b & 0x7f) === videoPt) video[i]! += 1;
      else if ((b & 0x7f) === audioPt) audio[i]! += 1;
      else other[i]! += 1;
    });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    sockets.push(socket);
    ports.push(socket.address().port);
  }
  return ports;
}

serveParent({ pid: process.pid }, async (body) => {
  const req = body as SinkRequest;
  switch (req.type) {
    case 'open':
      return open(req.count, req.videoPayloadType, req.audioPayloadType, req.recvBufferBytes);
    case 'snapshot':
      return counters;
    case 'closeAll':
      for (const s of sockets.splice(0)) s.close();
      counters = { video: [], audio: [], other: [], rtcp: [], bytes: [] };
      return null;
  }
});
