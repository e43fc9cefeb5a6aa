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
  | { type: 'snapshot' };

/**
 * Cumulative counters, one entry per sink in the order they were opened. `videoSeq` and
 * `audioSeq` are the highest extended RTP sequence numbers seen (-1: none yet): their advance
 * over a window is the number of packets the SFU sent this viewer, read at the same moment
 * as the packet counts, however far behind the sink process runs.
 */
export interface SinkSnapshot {
  video: number[];
  audio: number[];
  videoSeq: number[];
  audioSeq: number[];
  other: number[];
  rtcp: number[];
  bytes: number[];
}

const sockets: dgram.Socket[] = [];
const counters: SinkSnapshot = { video: [], audio: [], videoSeq: [], audioSeq: [], other: [], rtcp: [], bytes: [] };

/** Extends a 16-bit RTP sequence number against the highest extended one so far. */
function extend(highest: number, seq: number): number {
  if (highest < 0) return seq;
  let delta = seq - (highest % 65536);
  if (delta < -32768) delta += 65536;
  else if (delta > 32768) delta -= 65536;
  return delta > 0 ? highest + delta : highest;
}

async function open(count: number, videoPt: number, audioPt: number, recvBufferBytes: number): Promise<number[]> {
  const ports: number[] = [];
  for (let n = 0; n < count; n += 1) {
    const i = sockets.length;
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: recvBufferBytes });
    counters.video[i] = 0;
    counters.audio[i] = 0;
    counters.videoSeq[i] = -1;
    counters.audioSeq[i] = -1;
    counters.other[i] = 0;
    counters.rtcp[i] = 0;
    counters.bytes[i] = 0;
    const { video, audio, videoSeq, audioSeq, other, rtcp, bytes } = counters;
    socket.on('message', (msg) => {
      bytes[i]! += msg.length;
      if (msg.length < 12) return;
      const b = msg[1]!;
      // RFC 5761 demultiplexing: second byte 192..223 is RTCP (SRTCP here).
      if (b >= 192 && b <= 223) {
        rtcp[i]! += 1;
        return;
      }
      const pt = b & 0x7f;
      const seq = msg.readUInt16BE(2);
      if (pt === videoPt) {
        video[i]! += 1;
        videoSeq[i] = extend(videoSeq[i]!, seq);
      } else if (pt === audioPt) {
        audio[i]! += 1;
        audioSeq[i] = extend(audioSeq[i]!, seq);
      } else other[i]! += 1;
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
  }
});
