import type * as ms from 'mediasoup-client/types';
import { describe, expect, it } from 'vitest';
import { chooseVideoCodec, videoCodecFromQuery } from '../../../web/src/videoCodec.ts';
import { mediaCodecs } from '../../../sfu/mediaCodecs.ts';

const opus: ms.RtpCodecCapability = { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100 };
const vp8: ms.RtpCodecCapability = { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 101 };
const h264 = (profile: string, mode = 1, pt = 102): ms.RtpCodecCapability => ({
  kind: 'video',
  mimeType: 'video/H264',
  clockRate: 90000,
  preferredPayloadType: pt,
  parameters: { 'packetization-mode': mode, 'profile-level-id': profile, 'level-asymmetry-allowed': 1 },
});

describe('chooseVideoCodec', () => {
  it('picks H.264 Constrained Baseline with packetization-mode 1 when the browser can send it', () => {
    const cb = h264('42e01f', 1, 104);
    expect(chooseVideoCodec([opus, vp8, h264('4d001f', 1, 103), h264('42e01f', 0, 105), cb], 'auto')).toBe(cb);
    expect(chooseVideoCodec([opus, vp8, cb], 'h264')).toBe(cb);
  });

  it('falls back to VP8 without a usable H.264 (Main profile only, or packetization-mode 0)', () => {
    expect(chooseVideoCodec([opus, vp8, h264('4d001f'), h264('42e01f', 0)], 'auto')).toBe(vp8);
    expect(chooseVideoCodec([opus, vp8], 'h264')).toBe(vp8);
  });

  it('sends VP8 when asked to, even where H.264 is possible', () => {
    expect(chooseVideoCodec([opus, h264('42e01f'), vp8], 'vp8')).toBe(vp8);
  });

  it('leaves the choice to mediasoup-client when neither is there', () => {
    expect(chooseVideoCodec([opus], 'auto')).toBeUndefined();
    expect(chooseVideoCodec(undefined, 'auto')).toBeUndefined();
  });

  it('finds the codec the router offers (sfu/mediaCodecs.ts)', () => {
    const offered: ms.RtpCodecCapability[] = mediaCodecs.map((c, i) => ({ ...c, preferredPayloadType: 100 + i }));
    expect(chooseVideoCodec(offered, 'auto')).toMatchObject({ mimeType: 'video/H264', parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1 } });
  });
});

describe('videoCodecFromQuery', () => {
  it('reads ?codec=vp8|h264 and is auto otherwise', () => {
    expect(videoCodecFromQuery('?codec=vp8')).toBe('vp8');
    expect(videoCodecFromQuery('?codec=H264')).toBe('h264');
    expect(videoCodecFromQuery('?codec=av1')).toBe('auto');
    expect(videoCodecFromQuery('')).toBe('auto');
  });
});
