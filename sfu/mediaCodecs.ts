import type { types as ms } from 'mediasoup';

/**
 * The codecs every broadcast router offers: Opus for audio, VP8 and H.264 for video.
 *
 * H.264 is offered in Constrained Baseline (42e01f) and Main (4d001f), both with
 * packetization-mode 1, which is what browsers' hardware encoders produce. rtcpFeedback is
 * left out on purpose: mediasoup fills in its supported feedback (nack, pli, fir,
 * transport-cc, goog-remb) for each codec.
 */
export const mediaCodecs: ms.RouterRtpCodecCapability[] = [
  {
    kind: 'audio',
    mimeType: 'audio/opus',
    clockRate: 48000,
    channels: 2,
  },
  {
    kind: 'video',
    mimeType: 'video/VP8',
    clockRate: 90000,
    parameters: {
      // Lets Chromium start near 1 Mbit/s instead of ramping up from ~300 kbit/s.
      'x-google-start-bitrate': 1000,
    },
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: {
      'packetization-mode': 1,
      'profile-level-id': '42e01f',
      'level-asymmetry-allowed': 1,
      'x-google-start-bitrate': 1000,
    },
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: {
      'packetization-mode': 1,
      'profile-level-id': '4d001f',
      'level-asymmetry-allowed': 1,
      'x-google-start-bitrate': 1000,
    },
  },
];
