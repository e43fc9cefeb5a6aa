import { describe, expect, it } from 'vitest';
import { ArchiveJobSchema, FinalizeJobSchema, RecordJobSchema, finalizeJobId, recordJobId } from '../../../common/jobs/queues.ts';
import { ResultJobSchema } from '../../../common/jobs/results.ts';
import { TapRequestSchema, tapChannels } from '../../../common/jobs/tap.ts';

const output = {
  durationMs: 10_000,
  width: 640,
  height: 360,
  timeline: [{ offsetMs: 700, mediaStartMs: 0, durationMs: 10_000 }],
  poster: 'poster.jpg',
  webm: 'video.webm',
  hls: 'hls/index.m3u8',
  mp4: { name: 'replay.mp4', sizeBytes: 123, sha256: 'a'.repeat(64) },
};

/** The contract between the signalling and workers processes, validated on both sides. */
describe('job contract', () => {
  it('has deterministic job ids per broadcast, and namespaced tap channels', () => {
    expect(recordJobId('b_12345678')).toBe('record-b_12345678');
    expect(finalizeJobId('b_12345678')).toBe('finalize-b_12345678');
    expect(tapChannels('acme')).toEqual({ rpc: 'acme:tap', closed: 'acme:tap:closed' });
  });

  it('accepts every kind of result and refuses malformed ones', () => {
    const b = 'b_12345678';
    for (const r of [
      { type: 'recording', broadcastId: b, state: 'started', reason: null },
      { type: 'recording', broadcastId: b, state: 'stopped', reason: 'disk' },
      { type: 'replay', broadcastId: b, state: 'preview', output: { ...output, mp4: null, hls: null } },
      { type: 'replay', broadcastId: b, state: 'preview', output: { ...output, webm: null, videoMp4: 'video.mp4', mp4: null, hls: null } },
      { type: 'replay', broadcastId: b, state: 'ready', output },
      { type: 'replay', broadcastId: b, state: 'failed', reason: 'no media was recorded' },
    ]) {
      expect(ResultJobSchema.safeParse(r).success, JSON.stringify(r)).toBe(true);
    }
    for (const r of [
      { type: 'replay', broadcastId: b, state: 'failed' },
      { type: 'replay', broadcastId: b, state: 'ready', output: { ...output, mp4: { ...output.mp4, sha256: 'nope' } } },
      { type: 'replay', broadcastId: '../x', state: 'failed', reason: 'x' },
      { type: 'recording', broadcastId: b, state: 'paused', reason: null },
      { type: 'other', broadcastId: b },
      { type: 'replay', broadcastId: b, state: 'preview', output: { ...output, videoMp4: 4 } },
    ]) {
      expect(ResultJobSchema.safeParse(r).success, JSON.stringify(r)).toBe(false);
    }
  });

  it("reads a worker of an older version's output, which has no videoMp4, as having no MP4 preview", () => {
    const parsed = ResultJobSchema.parse({ type: 'replay', broadcastId: 'b_12345678', state: 'ready', output });
    expect(parsed).toMatchObject({ output: { videoMp4: null, webm: 'video.webm' } });
  });

  it('validates job payloads and tap requests', () => {
    expect(RecordJobSchema.safeParse({ broadcastId: 'b_12345678' }).success).toBe(true);
    expect(RecordJobSchema.safeParse({ broadcastId: 'b_1' }).success).toBe(false);
    expect(FinalizeJobSchema.safeParse({ broadcastId: 'b_12345678', extra: 1 }).success).toBe(false);
    const srtp = { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: 'QSXVvCMu21Q/IEeqqeBpQEBtlShRdjEMa3DHYcPt' };
    const ports = { video: { rtpPort: 41000, rtcpPort: 41001 }, audio: { rtpPort: 41002, rtcpPort: 41003 }, srtp };
    expect(TapRequestSchema.safeParse({ op: 'open', broadcastId: 'b_12345678', host: '10.0.0.5', ...ports }).success).toBe(true);
    // The recorder always gives the SFU its SRTP key, in the one suite both sides speak.
    expect(TapRequestSchema.safeParse({ op: 'open', broadcastId: 'b_12345678', host: '10.0.0.5', ...ports, srtp: undefined }).success).toBe(false);
    expect(TapRequestSchema.safeParse({ op: 'open', broadcastId: 'b_12345678', host: '10.0.0.5', ...ports, srtp: { ...srtp, cryptoSuite: 'NONE' } }).success).toBe(false);
    expect(TapRequestSchema.safeParse({ op: 'open', broadcastId: 'b_12345678', host: '10.0.0.5', ...ports, srtp: { ...srtp, keyBase64: 'short' } }).success).toBe(false);
    expect(TapRequestSchema.safeParse({ op: 'open', broadcastId: 'b_12345678', host: 'example.com', ...ports }).success).toBe(false);
    expect(TapRequestSchema.safeParse({ op: 'open', broadcastId: 'b_12345678', host: '::1', ...ports, video: { rtpPort: 0, rtcpPort: 1 } }).success).toBe(false);
    expect(TapRequestSchema.safeParse({ op: 'explode', tapId: 'x' }).success).toBe(false);
    // Archive jobs: an optional whole, positive rate cap (background archives).
    expect(ArchiveJobSchema.safeParse({ archiveId: 'a_12345678' }).success).toBe(true);
    expect(ArchiveJobSchema.safeParse({ archiveId: 'a_12345678', maxBytesPerSecond: 104857600 }).success).toBe(true);
    for (const bad of [0, -1, 1.5, '100']) expect(ArchiveJobSchema.safeParse({ archiveId: 'a_12345678', maxBytesPerSecond: bad }).success).toBe(false);
    expect(ArchiveJobSchema.safeParse({ archiveId: '../a_12345678' }).success).toBe(false);
  });
});
