import type { types as ms } from 'mediasoup';
import { describe, expect, it } from 'vitest';
import { carries, payloadNumbering } from '../../../sfu/payloadNumbering.ts';
import { toMsRtpCapabilities } from '../../../sfu/wire.ts';
import { parseWhepOffer } from '../../../signaling/ingest/whep/whepSdp.ts';
import { chromiumRecvonlyOffer } from '../../fixtures/chromiumWhepOffer.ts';

const chromium = toMsRtpCapabilities(parseWhepOffer(chromiumRecvonlyOffer).rtpCapabilities);

/** Producers' first codecs as the origin router numbers them (mediasoup's dynamic types). */
const opus: ms.RtpCodecParameters = { mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 } };
const vp8: ms.RtpCodecParameters = { mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, parameters: {} };
const h264: ms.RtpCodecParameters = {
  mimeType: 'video/H264',
  payloadType: 103,
  clockRate: 90000,
  parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
};
const h264Main: ms.RtpCodecParameters = { ...h264, payloadType: 105, parameters: { 'packetization-mode': 1, 'profile-level-id': '4d001f' } };

describe('payloadNumbering', () => {
  it('numbers the broadcast’s codecs in use the player’s way, audio first, with the router’s own codec parameters', () => {
    const n = payloadNumbering(chromium, [h264, opus]);
    expect(n?.codecs.map((c) => [c.mimeType, c.preferredPayloadType, c.parameters?.['profile-level-id']])).toEqual([
      ['audio/opus', 111, undefined],
      ['video/H264', 108, '42e01f'],
    ]);
    // The router's H.264 parameters, so that the piped producer maps onto it.
    expect(n?.codecs[1]?.parameters).toMatchObject({ 'packetization-mode': 1, 'level-asymmetry-allowed': 1 });
    expect(payloadNumbering(chromium, [vp8, opus])?.codecs.map((c) => c.preferredPayloadType)).toEqual([111, 96]);
    expect(payloadNumbering(chromium, [h264Main])?.codecs.map((c) => c.preferredPayloadType)).toEqual([116]);
  });

  it('one key per numbering: the same player and broadcast share, another numbering does not', () => {
    expect(payloadNumbering(chromium, [h264, opus])?.key).toBe(payloadNumbering(chromium, [opus, h264])?.key);
    const renumbered: ms.RtpCapabilities = { ...chromium, codecs: (chromium.codecs ?? []).map((c) => (c.mimeType === 'audio/opus' ? { ...c, preferredPayloadType: 109 } : c)) };
    expect(payloadNumbering(renumbered, [h264, opus])?.key).not.toBe(payloadNumbering(chromium, [h264, opus])?.key);
  });

  it('leaves out what the player cannot decode; undefined when that is everything', () => {
    const audioOnly: ms.RtpCapabilities = { ...chromium, codecs: (chromium.codecs ?? []).filter((c) => c.kind === 'audio') };
    expect(payloadNumbering(audioOnly, [h264, opus])?.codecs.map((c) => c.mimeType)).toEqual(['audio/opus']);
    expect(payloadNumbering(audioOnly, [h264])).toBeUndefined();
    // Baseline (42001f) is not Constrained Baseline (42e01f), nor packetization-mode 0 mode 1.
    const baselineOnly: ms.RtpCapabilities = {
      ...chromium,
      codecs: (chromium.codecs ?? []).filter((c) => c.mimeType === 'video/H264' && c.parameters?.['profile-level-id'] !== '42e01f'),
    };
    expect(payloadNumbering(baselineOnly, [h264])).toBeUndefined();
  });

  it('carries only the producers of its codecs', () => {
    const codecs = payloadNumbering(chromium, [h264, opus])?.codecs ?? [];
    expect([carries(codecs, h264), carries(codecs, opus), carries(codecs, vp8), carries(codecs, h264Main), carries(codecs, undefined)]).toEqual([true, true, false, false, false]);
  });
});
