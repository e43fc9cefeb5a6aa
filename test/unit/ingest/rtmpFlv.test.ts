import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { FLV_AUDIO, FLV_VIDEO, flvHeader, flvTag, h264ProfileName, profileLevelIdFor, readVideoTag } from '../../../signaling/ingest/rtmp/flvTags.ts';
import { KeyframeWatch } from '../../../signaling/ingest/rtmp/KeyframeWatch.ts';
import { transcoderArgs } from '../../../signaling/ingest/rtmp/RtmpTranscoder.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('RTMP video tags', () => {
  it('reads H.264 configurations, keyframes, inter frames and their composition time', () => {
    // AVCDecoderConfigurationRecord of a Main profile stream: version 1, profile 77, compat 64, level 31.
    expect(readVideoTag(Buffer.from([0x17, 0x00, 0, 0, 0, 0x01, 77, 0x40, 31, 0xff]))).toEqual({ codec: 'h264', kind: 'config', profileIdc: 77 });
    expect(readVideoTag(Buffer.from([0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x65]))).toEqual({ codec: 'h264', kind: 'frame', keyframe: true, compositionTimeMs: 0 });
    expect(readVideoTag(Buffer.from([0x27, 0x01, 0, 0, 66, 0, 0, 0, 1, 0x41]))).toEqual({ codec: 'h264', kind: 'frame', keyframe: false, compositionTimeMs: 66 });
    expect(readVideoTag(Buffer.from([0x27, 0x01, 0xff, 0xff, 0xdf, 0]))).toMatchObject({ compositionTimeMs: -33 });
    expect(readVideoTag(Buffer.from([0x17, 0x02, 0, 0, 0]))).toEqual({ codec: 'h264', kind: 'end' });
  });

  it('names other codecs: FLV codec ids and enhanced-RTMP FourCCs (HEVC, AV1)', () => {
    expect(readVideoTag(Buffer.from([0x22, 0, 0, 0, 0]))).toEqual({ codec: 'flv:2', kind: 'other' });
    expect(readVideoTag(Buffer.from([0x90, ...Buffer.from('hvc1'), 0]))).toEqual({ codec: 'hvc1', kind: 'other' });
    expect(readVideoTag(Buffer.from([0x91, ...Buffer.from('av01'), 0]))).toEqual({ codec: 'av01', kind: 'other' });
  });

  it('refuses to read what is too short to be a tag', () => {
    expect(readVideoTag(Buffer.alloc(0))).toBeUndefined();
    expect(readVideoTag(Buffer.from([0x17, 0x01]))).toBeUndefined();
    expect(readVideoTag(Buffer.from([0x17, 0x00, 0, 0, 0, 1]))).toBeUndefined();
    expect(readVideoTag(Buffer.from([0x90, 0x68]))).toBeUndefined();
  });

  it('declares the profiles the router offers and no other', () => {
    expect(profileLevelIdFor(66)).toBe('42e01f');
    expect(profileLevelIdFor(77)).toBe('4d001f');
    expect(profileLevelIdFor(100)).toBeUndefined();
    expect(h264ProfileName(100)).toBe('High');
    expect(h264ProfileName(1)).toBe('profile_idc 1');
  });
});

describe('KeyframeWatch', () => {
  it('says once, as soon as a frame is more than the limit past the last keyframe', () => {
    const watch = new KeyframeWatch(4000);
    const gaps: Array<number | undefined> = [];
    // 10 s keyframe interval at 10 fps: the first gap over 4 s is known at 4.1 s.
    for (let t = 0; t <= 20_000; t += 100) gaps.push(watch.frame(t, t % 10_000 === 0));
    expect(gaps.filter((g) => g !== undefined)).toEqual([4100]);
  });

  it('stays quiet at 2 s and at exactly the limit', () => {
    const watch = new KeyframeWatch(4000);
    for (let t = 0; t <= 20_000; t += 100) expect(watch.frame(t, t % 2000 === 0 || t === 16_000)).toBeUndefined();
  });
});

describe('the FLV written to ffmpeg', () => {
  it('is an FLV file ffprobe reads: header, tags, previous tag sizes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'flv-'));
    dirs.push(dir);
    // An audio-only file: the AAC configuration, then one (tiny) frame at a timestamp past 24 bits.
    const aacConfig = Buffer.from([0xaf, 0x00, 0x12, 0x10]); // AAC LC, 44.1 kHz, stereo
    const file = path.join(dir, 'a.flv');
    writeFileSync(file, Buffer.concat([flvHeader({ audio: true, video: false }), flvTag(FLV_AUDIO, 0, aacConfig), flvTag(FLV_AUDIO, 0x1234567, Buffer.from([0xaf, 0x01, 0x21, 0x00]))]));
    const { stdout } = await promisify(execFile)('ffprobe', ['-v', 'quiet', '-f', 'flv', '-show_entries', 'stream=codec_name,sample_rate,channels', '-of', 'json', file]);
    expect(JSON.parse(stdout)).toMatchObject({ streams: [{ codec_name: 'aac', sample_rate: '44100', channels: 2 }] });
    const tag = flvTag(FLV_VIDEO, 0x1234567, Buffer.from([1, 2, 3]));
    expect(tag.readUIntBE(4, 3)).toBe(0x234567);
    expect(tag.readUInt8(7)).toBe(0x01);
    expect(tag.readUInt32BE(tag.length - 4)).toBe(11 + 3);
    expect(flvHeader({ audio: false, video: true }).readUInt8(4)).toBe(1);
  });
});

describe('transcoderArgs', () => {
  const video = { endpoint: { ip: '127.0.0.1', port: 40100, rtcpPort: 40101 }, payloadType: 102, ssrc: 1234 };
  it('copies the video and encodes the audio to Opus, each to its own RTP endpoint', () => {
    const args = transcoderArgs({ video, audio: { endpoint: { ip: '127.0.0.1', port: 40102, rtcpPort: 40103 }, payloadType: 111, ssrc: 5678 } });
    const joined = args.join(' ');
    expect(joined).toContain('-map 0:v:0 -c:v copy -bsf:v h264_mp4toannexb -payload_type 102 -ssrc 1234 -f rtp rtp://127.0.0.1:40100?rtcpport=40101&pkt_size=1200');
    expect(joined).toContain('-map 0:a:0 -c:a libopus');
    expect(joined).toContain('-payload_type 111 -ssrc 5678 -f rtp rtp://127.0.0.1:40102?rtcpport=40103&pkt_size=1200');
  });
  it('has no audio output for a stream without audio', () => {
    expect(transcoderArgs({ video, audio: undefined }).join(' ')).not.toContain('0:a');
  });
});
