/**
 * What the RTMP ingest reads of an encoder's FLV tags (RTMP audio and video messages carry FLV
 * tag bodies), and the FLV it writes to ffmpeg. Pure functions (docs/ingest.md, "RTMP").
 */

export const FLV_AUDIO = 8;
export const FLV_VIDEO = 9;
export const FLV_SCRIPT = 18;

/** One video message as the ingest sees it. */
export type VideoTag =
  /** H.264 (FLV codec 7): the decoder configuration (AVCDecoderConfigurationRecord), a frame or the end of the sequence. */
  | { codec: 'h264'; kind: 'config'; profileIdc: number }
  | { codec: 'h264'; kind: 'frame'; keyframe: boolean; compositionTimeMs: number }
  | { codec: 'h264'; kind: 'end' }
  /** Anything else: another FLV codec id (e.g. 'flv:2' Sorenson) or an enhanced-RTMP FourCC ('hvc1', 'av01', 'vp09'). */
  | { codec: string; kind: 'other' };

/** Reads a video message body, or undefined for one too short to be a video tag. */
export function readVideoTag(body: Buffer): VideoTag | undefined {
  if (body.length < 1) return undefined;
  const first = body.readUInt8(0);
  if ((first & 0x80) !== 0) {
    // Enhanced RTMP (the "ExVideoTagHeader"): a FourCC names the codec.
    if (body.length < 5) return undefined;
    const fourCc = body.subarray(1, 5).toString('latin1');
    return { codec: fourCc === 'avc1' ? 'avc1 (enhanced RTMP)' : fourCc, kind: 'other' };
  }
  const frameType = first >> 4;
  const codecId = first & 0x0f;
  if (codecId !== 7) return { codec: `flv:${String(codecId)}`, kind: 'other' };
  if (body.length < 5) return undefined;
  const packetType = body.readUInt8(1);
  if (packetType === 0) {
    // AVCDecoderConfigurationRecord: version, AVCProfileIndication, compatibility, level, ...
    if (body.length < 9) return undefined;
    return { codec: 'h264', kind: 'config', profileIdc: body.readUInt8(6) };
  }
  if (packetType === 2) return { codec: 'h264', kind: 'end' };
  // The composition time offset, a signed 24-bit integer: non-zero only with reordered frames (B-frames).
  const cts = (body.readIntBE(2, 3));
  return { codec: 'h264', kind: 'frame', keyframe: frameType === 1, compositionTimeMs: cts };
}

/**
 * The `profile-level-id` the ingest declares for an H.264 stream of `profileIdc`, as the SFU's
 * router offers it (sfu/mediaCodecs.ts: Constrained Baseline and Main, level 3.1 with level
 * asymmetry allowed), or undefined for a profile the router does not offer (High and above).
 * Baseline (66) is declared as Constrained Baseline: x264 and hardware encoders use none of the
 * three Baseline tools Constrained Baseline leaves out (FMO, ASO, redundant slices).
 */
export function profileLevelIdFor(profileIdc: number): string | undefined {
  if (profileIdc === 66) return '42e01f';
  if (profileIdc === 77) return '4d001f';
  return undefined;
}

/** A readable name of an H.264 profile_idc, for refusals. */
export function h264ProfileName(profileIdc: number): string {
  const names: Record<number, string> = { 66: 'Baseline', 77: 'Main', 88: 'Extended', 100: 'High', 110: 'High 10', 122: 'High 4:2:2', 244: 'High 4:4:4' };
  return names[profileIdc] ?? `profile_idc ${String(profileIdc)}`;
}

/** The 13 bytes an FLV file starts with: the header (with the audio and video flags) and PreviousTagSize0. */
export function flvHeader(o: { audio: boolean; video: boolean }): Buffer {
  const header = Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]);
  header.writeUInt8((o.audio ? 4 : 0) | (o.video ? 1 : 0), 4);
  return header;
}

/** One FLV tag (header, `body`, PreviousTagSize) of `type` at `timestampMs` (32 bits, wrapping as FLV does). */
export function flvTag(type: number, timestampMs: number, body: Buffer): Buffer {
  const tag = Buffer.alloc(11 + body.length + 4);
  tag.writeUInt8(type, 0);
  tag.writeUIntBE(body.length, 1, 3);
  const ts = timestampMs >>> 0;
  tag.writeUIntBE(ts & 0xffffff, 4, 3);
  tag.writeUInt8(ts >>> 24, 7);
  // Stream id (3 bytes) stays 0.
  body.copy(tag, 11);
  tag.writeUInt32BE(11 + body.length, 11 + body.length);
  return tag;
}
