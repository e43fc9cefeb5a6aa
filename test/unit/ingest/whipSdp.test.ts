import { parse } from 'sdp-transform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RtpCapabilities, TransportOptions } from '../../../common/protocol/media.ts';
import { parseWhipOffer, writeWhipAnswer, type WhipOffer } from '../../../signaling/ingest/whip/whipSdp.ts';
import { sameH264Profile } from '../../../signaling/ingest/whip/h264Profile.ts';
import type { Broadcast, WorkerPool } from '../../../sfu/index.ts';
import { routerRtpCapabilities } from '../../../sfu/routerCapabilities.ts';
import { chromiumH264Offer, chromiumVp8SimulcastOffer, obs30H264OpusOffer } from '../../fixtures/whipOffers.ts';
import { createTestBroadcast, createTestPool } from '../../helpers/sfu.ts';
import { thrownAppError } from '../../helpers/sfu.ts';

/**
 * The WHIP SDP translation over real offers (test/fixtures/whipOffers.ts) and a real router's
 * capabilities; every accepted offer's tracks are then produced on a real mediasoup transport,
 * so "accepted" means mediasoup takes it too.
 */

let pool: WorkerPool;
let capabilities: RtpCapabilities;
const broadcasts: Broadcast[] = [];

beforeAll(async () => {
  pool = await createTestPool();
  capabilities = await routerRtpCapabilities(pool);
});
afterAll(async () => {
  for (const b of broadcasts) b.close('stopped');
  await pool.close();
});

/** Creates the send transport, connects it with the offer's DTLS parameters, produces every track. */
async function produceAll(offer: WhipOffer): Promise<{ transport: TransportOptions; producers: string[] }> {
  const broadcast = await createTestBroadcast(pool);
  broadcasts.push(broadcast);
  const transport = await broadcast.createSendTransport();
  await broadcast.connectSendTransport(transport.id, offer.dtlsParameters);
  const producers: string[] = [];
  for (const t of offer.tracks) producers.push((await broadcast.produce({ transportId: transport.id, kind: t.kind, rtpParameters: t.rtpParameters })).producerId);
  return { transport, producers };
}

const refusal = thrownAppError;

/** The offer's lines, CRLF-joined again after `edit`. */
function edited(sdp: string, edit: (lines: string[]) => string[]): string {
  return edit(sdp.split('\r\n').filter((l) => l !== '')).join('\r\n') + '\r\n';
}

/** The lines of m-section `index` (0-based) and the lines before it. */
function dropSection(sdp: string, index: number): string {
  return edited(sdp, (lines) => {
    const starts = lines.flatMap((l, i) => (l.startsWith('m=') ? [i] : []));
    const from = starts[index] ?? lines.length;
    const to = starts[index + 1] ?? lines.length;
    return [...lines.slice(0, from), ...lines.slice(to)];
  });
}

describe('parseWhipOffer over Chromium offers', () => {
  it('H.264 + Opus: the Constrained Baseline format with its RTX, the SSRCs, the kept extensions; mediasoup produces both', async () => {
    const offer = parseWhipOffer(chromiumH264Offer, capabilities);
    expect(offer.ice).toEqual({ usernameFragment: 'Z6Qp', password: 'UAzbUKiVEJky5SO9Ao0lTQSl' });
    expect(offer.dtlsParameters).toEqual({
      role: 'client',
      fingerprints: [{ algorithm: 'sha-256', value: '1B:64:16:8B:39:36:91:B5:8F:90:BD:46:FB:BF:DC:51:30:6C:47:6C:22:F5:A1:83:75:1B:76:8A:94:0D:67:4D' }],
    });
    expect(offer.bundle).toEqual(['0', '1']);
    expect(offer.tracks.map((t) => t.kind)).toEqual(['audio', 'video']);
    const [audio, video] = offer.tracks;
    expect(audio?.rtpParameters.codecs).toEqual([
      { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc' }] },
    ]);
    expect(audio?.rtpParameters.encodings).toEqual([{ ssrc: 3925192327 }]);
    expect(audio?.rtpParameters.mid).toBe('0');
    expect(audio?.rtpParameters.rtcp).toEqual({ cname: '3blw1hNKpVZL6L70', reducedSize: true, mux: true });
    expect(audio?.rtpParameters.headerExtensions?.map((h) => h.uri)).toEqual([
      'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
      'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
      'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
      'urn:ietf:params:rtp-hdrext:sdes:mid',
    ]);
    // 102 (Baseline 42001f) and 104 (packetization-mode 0) are not what the router takes; 108 is.
    expect(video?.rtpParameters.codecs[0]).toMatchObject({
      mimeType: 'video/H264',
      payloadType: 108,
      parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' },
    });
    expect(video?.rtpParameters.codecs[0]?.rtcpFeedback).toEqual([
      { type: 'goog-remb' },
      { type: 'transport-cc' },
      { type: 'ccm', parameter: 'fir' },
      { type: 'nack' },
      { type: 'nack', parameter: 'pli' },
    ]);
    expect(video?.rtpParameters.codecs[1]).toEqual({ mimeType: 'video/rtx', payloadType: 109, clockRate: 90000, parameters: { apt: 108 } });
    expect(video?.rtpParameters.encodings).toEqual([{ ssrc: 1521138765, rtx: { ssrc: 3217295220 } }]);
    // Orientation, timing, color space, playout delay and the RID extensions of a non-simulcast section are left out.
    expect(video?.rtpParameters.headerExtensions?.map((h) => h.id)).toEqual([2, 13, 3, 4]);
    const { producers } = await produceAll(offer);
    expect(producers).toHaveLength(2);
  });

  it('VP8 simulcast: three RID encodings in a=simulcast order, RTX by repaired RID; mediasoup produces it', async () => {
    const offer = parseWhipOffer(chromiumVp8SimulcastOffer, capabilities);
    const video = offer.tracks.find((t) => t.kind === 'video');
    expect(video?.rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType])).toEqual([
      ['video/VP8', 96],
      ['video/rtx', 97],
    ]);
    expect(video?.rtpParameters.encodings).toEqual([{ rid: 'q' }, { rid: 'h' }, { rid: 'f' }]);
    expect(video?.rtpParameters.headerExtensions?.map((h) => h.uri)).toContain('urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id');
    expect(video?.rtpParameters.headerExtensions?.map((h) => h.uri)).toContain('urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id');
    expect(offer.sections[1]?.rids).toEqual(['q', 'h', 'f']);
    const { producers } = await produceAll(offer);
    expect(producers).toHaveLength(2);
  });
});

describe('parseWhipOffer over an OBS 30 offer (reconstructed, see the fixture)', () => {
  it('takes ICE and DTLS from the session level, H.264 PT 96 and Opus PT 111 by SSRC, no header extensions; mediasoup produces both', async () => {
    const offer = parseWhipOffer(obs30H264OpusOffer, capabilities);
    expect(offer.ice).toEqual({ usernameFragment: 'K9nE', password: 'h5XUnJ0Lx9WcP2q7Rz1bTs' });
    expect(offer.dtlsParameters.fingerprints[0]?.algorithm).toBe('sha-256');
    expect(offer.bundle).toEqual(['0', '1']);
    const [audio, video] = offer.tracks;
    expect(audio?.rtpParameters).toMatchObject({ mid: '0', codecs: [{ mimeType: 'audio/opus', payloadType: 111, channels: 2 }], encodings: [{ ssrc: 2381504730 }] });
    expect(audio?.rtpParameters.codecs[0]?.parameters).toEqual({ minptime: 10, maxaveragebitrate: 96000, stereo: 1, 'sprop-stereo': 1, useinbandfec: 1 });
    expect(video?.rtpParameters).toMatchObject({
      mid: '1',
      codecs: [{ mimeType: 'video/H264', payloadType: 96, parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1 } }],
      encodings: [{ ssrc: 2381504731 }],
      headerExtensions: [],
      rtcp: { cname: 'pQ7vXk2LmN9aB4sD' },
    });
    expect(video?.rtpParameters.codecs).toHaveLength(1);
    expect(video?.rtpParameters.codecs[0]?.rtcpFeedback).toEqual([{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }]);
    const { producers } = await produceAll(offer);
    expect(producers).toHaveLength(2);
  });

  it('AV1 or HEVC only (the router has neither): 422, naming what was offered and what is taken', () => {
    for (const [codec, named] of [
      ['AV1', 'AV1'],
      ['H265', 'H265'],
    ] as const) {
      const sdp = edited(obs30H264OpusOffer, (lines) =>
        lines.filter((l) => !l.startsWith('a=fmtp:96')).map((l) => (l === 'a=rtpmap:96 H264/90000' ? `a=rtpmap:96 ${codec}/90000` : l)),
      );
      const error = refusal(() => parseWhipOffer(sdp, capabilities));
      expect(error.code).toBe('UNSUPPORTED_OFFER');
      expect(error.status).toBe(422);
      expect(error.message).toBe(
        `media section 1 (video, mid 1) offers ${named}; the server receives video as VP8, H264 (profile-level-id 42e01f, packetization-mode 1), H264 (profile-level-id 4d001f, packetization-mode 1) (in OBS: Settings → Output → Video Encoder, an H.264 encoder)`,
      );
    }
  });

  it('H.264 High profile: refused by name, as mediasoup would refuse it', () => {
    const sdp = edited(obs30H264OpusOffer, (lines) => lines.map((l) => l.replace('profile-level-id=42e01f', 'profile-level-id=640032')));
    const error = refusal(() => parseWhipOffer(sdp, capabilities));
    expect(error.status).toBe(422);
    expect(error.message).toContain('offers H264 (profile-level-id 640032, packetization-mode 1)');
  });

  it('no audio: a video-only broadcast is taken', async () => {
    const offer = parseWhipOffer(dropSection(obs30H264OpusOffer, 0), capabilities);
    expect(offer.tracks.map((t) => t.kind)).toEqual(['video']);
    const { producers } = await produceAll(offer);
    expect(producers).toHaveLength(1);
  });

  it('no video: 422, audio alone is not a broadcast', () => {
    const error = refusal(() => parseWhipOffer(dropSection(obs30H264OpusOffer, 1), capabilities));
    expect(error.status).toBe(422);
    expect(error.message).toBe('the offer has no video: a broadcast needs a video section (audio alone is not taken)');
  });
});

describe('parseWhipOffer refuses what it cannot take, with a clear error', () => {
  it('malformed SDP: 400', () => {
    for (const [sdp, message] of [
      ['hello', 'the body is not an SDP offer (SDP starts with "v=0")'],
      ['v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n', 'the offer has no media section (m=)'],
      ['v=0\r\nm=\r\n', 'the offer has a malformed m= line'],
      [edited(obs30H264OpusOffer, (lines) => lines.filter((l) => !l.startsWith('a=ice-pwd'))), 'media section 0 (audio, mid 0) has no a=ice-ufrag and a=ice-pwd'],
      [edited(obs30H264OpusOffer, (lines) => lines.filter((l) => !l.startsWith('a=fingerprint'))), 'media section 0 (audio, mid 0) has no a=fingerprint'],
      [edited(obs30H264OpusOffer, (lines) => lines.map((l) => (l.startsWith('a=fingerprint') ? 'a=fingerprint:sha-256 zz' : l))), 'media section 0 (audio, mid 0): a=fingerprint is malformed'],
    ]) {
      const error = refusal(() => parseWhipOffer(sdp as string, capabilities));
      expect([error.status, error.message]).toEqual([400, message]);
    }
  });

  it('50 media sections: 422 before parsing', () => {
    const video = obs30H264OpusOffer.slice(obs30H264OpusOffer.indexOf('m=video'));
    const sdp = obs30H264OpusOffer + Array.from({ length: 48 }, () => video).join('');
    const error = refusal(() => parseWhipOffer(sdp, capabilities));
    expect([error.status, error.message]).toEqual([422, 'the offer has 50 media sections; WHIP ingest takes one audio and one video section']);
  });

  it('a body over 64 KiB: 413', () => {
    const error = refusal(() => parseWhipOffer(obs30H264OpusOffer + `a=x-pad:${'x'.repeat(70_000)}\r\n`, capabilities));
    expect(error.status).toBe(413);
  });

  it('two video sections, a=setup:passive, unbundled media, no SSRC nor RID, plain RTP: 422', () => {
    const video = obs30H264OpusOffer.slice(obs30H264OpusOffer.indexOf('m=video'));
    const cases: Array<[string, string]> = [
      [obs30H264OpusOffer + video.replace('a=mid:1', 'a=mid:2'), 'the offer sends two video sections; WHIP ingest takes one audio and one video section'],
      [
        edited(obs30H264OpusOffer, (lines) => lines.map((l) => (l === 'a=setup:actpass' ? 'a=setup:passive' : l))),
        'media section 0 (audio, mid 0) has a=setup:passive; the server is the DTLS server (a=setup:passive), so offer actpass or active',
      ],
      [
        edited(obs30H264OpusOffer, (lines) => lines.filter((l) => !l.startsWith('a=group:BUNDLE'))),
        'the offer does not bundle its audio and video (a=group:BUNDLE with both mids): the server receives both on one transport',
      ],
      [
        edited(obs30H264OpusOffer, (lines) => lines.filter((l) => !l.startsWith('a=ssrc:2381504731'))),
        'media section 1 (video, mid 1) has neither a=ssrc nor a=rid with a=simulcast: the server could not tell its RTP stream',
      ],
      [
        edited(obs30H264OpusOffer, (lines) => lines.map((l) => l.replace('UDP/TLS/RTP/SAVPF 96', 'RTP/AVP 96'))),
        'media section 1 (video, mid 1) is RTP/AVP: WHIP media is DTLS-SRTP (UDP/TLS/RTP/SAVPF)',
      ],
    ];
    for (const [sdp, message] of cases) {
      const error = refusal(() => parseWhipOffer(sdp, capabilities));
      expect([error.status, error.message]).toEqual([422, message]);
    }
  });

  it('simulcast without the RID header extension: 422', () => {
    const sdp = edited(chromiumVp8SimulcastOffer, (lines) => lines.filter((l) => !l.endsWith('sdes:rtp-stream-id')));
    const error = refusal(() => parseWhipOffer(sdp, capabilities));
    expect(error.status).toBe(422);
    expect(error.message).toContain('simulcast by RID without the rtp-stream-id header extension');
  });
});

describe('writeWhipAnswer', () => {
  it("answers Chromium's offer: ICE-lite, the transport's credentials and candidates, passive DTLS, the chosen formats, receive-only", async () => {
    const offer = parseWhipOffer(chromiumH264Offer, capabilities);
    const { transport } = await produceAll(offer);
    const answer = parse(writeWhipAnswer(offer, transport));
    expect(answer.icelite).toBe('ice-lite');
    expect(answer.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
    expect(answer.media.map((m) => [m.type, m.port, String(m.payloads), m.direction, String(m.mid)])).toEqual([
      ['audio', 9, '111', 'recvonly', '0'],
      ['video', 9, '108 109', 'recvonly', '1'],
    ]);
    const sha256 = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256');
    for (const m of answer.media) {
      expect(String(m.iceUfrag)).toBe(transport.iceParameters.usernameFragment);
      expect(String(m.icePwd)).toBe(transport.iceParameters.password);
      expect(m.setup).toBe('passive');
      expect(m.rtcpMux).toBe('rtcp-mux');
      expect(m.fingerprint).toEqual({ type: 'sha-256', hash: sha256?.value });
      expect(m.candidates?.map((c) => [c.ip, c.port, c.transport])).toEqual(transport.iceCandidates.map((c) => [c.address, c.port, c.protocol]));
      expect(m.endOfCandidates).toBe('end-of-candidates');
    }
    expect(answer.media[1]?.fmtp).toEqual([
      { payload: 108, config: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f;x-google-start-bitrate=1000' },
      { payload: 109, config: 'apt=108' },
    ]);
    expect(answer.media[1]?.ext?.map((e) => e.value)).toEqual([2, 13, 3, 4]);
  });

  it('answers simulcast with the RIDs received, and rejects a data channel section with port 0', async () => {
    const withData = chromiumVp8SimulcastOffer.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0 1 2') + 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\n';
    const offer = parseWhipOffer(withData, capabilities);
    const { transport } = await produceAll(offer);
    const answer = parse(writeWhipAnswer(offer, transport));
    expect(answer.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
    expect(answer.media[1]?.rids?.map((r) => [String(r.id), r.direction])).toEqual([
      ['q', 'recv'],
      ['h', 'recv'],
      ['f', 'recv'],
    ]);
    expect(answer.media[1]?.simulcast).toEqual({ dir1: 'recv', list1: 'q;h;f' });
    expect(answer.media[2]).toMatchObject({ type: 'application', port: 0, direction: 'inactive' });
  });
});

describe('H.264 profiles', () => {
  it('matches by profile, not level; a missing profile-level-id is Constrained Baseline', () => {
    expect(sameH264Profile('42e01f', '42e034')).toBe(true);
    expect(sameH264Profile('42001f', '42e01f')).toBe(false);
    expect(sameH264Profile('4d001f', '4d0032')).toBe(true);
    expect(sameH264Profile('640032', '4d001f')).toBe(false);
    expect(sameH264Profile(undefined, '42e01f')).toBe(true);
    expect(sameH264Profile('zz', 'zz')).toBe(false);
  });
});
