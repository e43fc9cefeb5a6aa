import type * as ms from 'mediasoup-client/types';

/** Which video codec a broadcaster asks for: 'auto' (H.264 where the browser encodes it, else VP8) or one of them. */
export type VideoCodecChoice = 'auto' | 'h264' | 'vp8';

/** The H.264 profile every browser decodes: Constrained Baseline, level 3.1 (docs/sfu.md, "Codecs"). */
const CONSTRAINED_BASELINE = /^42e0/i;

/**
 * The codec a broadcaster's video is produced with, from the codecs its device can send to the
 * router (`device.sendRtpCapabilities`: the router's codecs this browser can encode).
 *
 * - 'auto' and 'h264': H.264 Constrained Baseline with packetization-mode 1, when listed, so
 *   the replay's MP4 is a copy of what was sent (docs/recording.md); 'auto' falls back to VP8.
 * - 'vp8' (and the fallback): VP8.
 *
 * Undefined when neither is listed: mediasoup-client then takes the first codec it can send.
 * Viewers must decode the chosen codec (mediasoup does not transcode); every major browser
 * decodes both, so a viewer's choice never has to be considered.
 */
export function chooseVideoCodec(codecs: readonly ms.RtpCodecCapability[] | undefined, choice: VideoCodecChoice): ms.RtpCodecCapability | undefined {
  const video = (codecs ?? []).filter((c) => c.kind === 'video');
  const param = (c: ms.RtpCodecCapability, name: string): string => {
    const v: unknown = c.parameters?.[name];
    return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
  };
  const h264 = video.find(
    (c) => c.mimeType.toLowerCase() === 'video/h264' && param(c, 'packetization-mode') === '1' && CONSTRAINED_BASELINE.test(param(c, 'profile-level-id')),
  );
  const vp8 = video.find((c) => c.mimeType.toLowerCase() === 'video/vp8');
  if (choice === 'vp8') return vp8;
  return h264 ?? vp8;
}

/** The `codec` query parameter of the live page (`/live?codec=vp8`), 'auto' when absent or unknown. */
export function videoCodecFromQuery(search: string): VideoCodecChoice {
  const codec = new URLSearchParams(search).get('codec')?.toLowerCase();
  return codec === 'h264' || codec === 'vp8' ? codec : 'auto';
}
