import { describe, expect, it } from 'vitest';
import type { TapStream } from '../../../common/jobs/tap.ts';
import { buildSdp } from '../../../workers/media/sdp.ts';

const KEY_A = 'QSXVvCMu21Q/IEeqqeBpQEBtlShRdjEMa3DHYcPt';
const KEY_B = 'bJ1tM2y4x0c3cW8C7A1ZtQ4e0yQ6m8vVZ2lK1S9p';
const srtp = (keyBase64: string) => ({ cryptoSuite: 'AES_CM_128_HMAC_SHA1_80' as const, keyBase64 });
const vp8: TapStream = {
  kind: 'video', payloadType: 101, mimeType: 'video/VP8', clockRate: 90000, parameters: {}, rtpPort: 40000, rtcpPort: 40001,
  srtp: srtp(KEY_A), sourceIp: '10.0.0.9',
};
const opus: TapStream = {
  kind: 'audio', payloadType: 100, mimeType: 'audio/opus', clockRate: 48000, channels: 2,
  parameters: { minptime: 10, useinbandfec: 1 }, rtpPort: 40002, rtcpPort: 40003, srtp: srtp(KEY_B), sourceIp: null,
};
const h264: TapStream = {
  kind: 'video', payloadType: 102, mimeType: 'video/H264', clockRate: 90000,
  parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  rtpPort: 40010, rtcpPort: 40011, srtp: srtp(KEY_A), sourceIp: '::1',
};

describe('buildSdp', () => {
  it('describes VP8 and Opus for ffmpeg, with each stream\'s SRTP key and the allowed sources', () => {
    expect(buildSdp({ host: '10.0.0.5', streams: [vp8, opus] })).toBe(
      [
        'v=0',
        'o=- 0 0 IN IP4 10.0.0.5',
        's=Spyglass recording',
        'c=IN IP4 10.0.0.5',
        't=0 0',
        'm=video 40000 RTP/AVP 101',
        'a=rtcp:40001',
        'a=rtpmap:101 VP8/90000',
        `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}`,
        'a=source-filter: incl IN IP4 * 10.0.0.9 10.0.0.5',
        'a=recvonly',
        'm=audio 40002 RTP/AVP 100',
        'a=rtcp:40003',
        'a=rtpmap:100 opus/48000/2',
        'a=fmtp:100 minptime=10;useinbandfec=1',
        `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_B}`,
        'a=recvonly',
        '',
      ].join('\r\n'),
    );
  });

  it('writes H.264 fmtp parameters and IPv6 addresses', () => {
    const sdp = buildSdp({ host: '::1', streams: [h264] });
    expect(sdp).toContain('o=- 0 0 IN IP6 ::1\r\n');
    expect(sdp).toContain('c=IN IP6 ::1\r\n');
    expect(sdp).toContain('m=video 40010 RTP/AVP 102\r\na=rtcp:40011\r\na=rtpmap:102 H264/90000\r\n');
    expect(sdp).toContain('a=fmtp:102 packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1\r\n');
    // The SFU on the same address: one source.
    expect(sdp).toContain('a=source-filter: incl IN IP6 * ::1\r\n');
  });

  it('omits the channel count when there is none, and an empty fmtp', () => {
    const { channels: _channels, ...noChannels } = opus;
    const sdp = buildSdp({ host: '127.0.0.1', streams: [noChannels, vp8] });
    expect(sdp).toContain('a=rtpmap:100 opus/48000\r\n');
    expect(sdp).not.toContain('a=fmtp:101');
  });

  it.each([
    ['a host name', { host: 'sfu.local', streams: [vp8] }, /not an IP address/],
    ['no streams', { host: '127.0.0.1', streams: [] }, /at least one stream/],
    ['an unknown kind', { host: '127.0.0.1', streams: [{ ...vp8, kind: 'data' as never }] }, /stream 0/],
    ['a kind that does not fit the mimeType', { host: '127.0.0.1', streams: [{ ...vp8, kind: 'audio' as const }] }, /does not fit kind/],
    ['a mimeType without codec', { host: '127.0.0.1', streams: [{ ...vp8, mimeType: 'video/' }] }, /does not fit kind/],
    ['port 0', { host: '127.0.0.1', streams: [{ ...vp8, rtpPort: 0 }] }, /rtpPort/],
    ['port 70000', { host: '127.0.0.1', streams: [{ ...vp8, rtpPort: 70000, rtcpPort: 70001 }] }, /rtpPort/],
    ['a fractional port', { host: '127.0.0.1', streams: [{ ...vp8, rtpPort: 4000.5 }] }, /rtpPort/],
    ['RTCP not on the next port', { host: '127.0.0.1', streams: [{ ...vp8, rtcpPort: 40005 }] }, /rtpPort \+ 1/],
    ['a port used twice', { host: '127.0.0.1', streams: [vp8, { ...opus, rtpPort: 40001, rtcpPort: 40002 }] }, /used twice/],
    ['a payload type used twice', { host: '127.0.0.1', streams: [vp8, { ...opus, payloadType: 101 }] }, /payload type 101/],
    ['an fmtp value with a space', { host: '127.0.0.1', streams: [{ ...opus, parameters: { a: 'x y' } }] }, /bad fmtp/],
    ['no SRTP key', { host: '127.0.0.1', streams: [{ ...vp8, srtp: undefined }] }, /srtp/],
    ['another crypto suite', { host: '127.0.0.1', streams: [{ ...vp8, srtp: { ...srtp(KEY_A), cryptoSuite: 'AEAD_AES_256_GCM' } }] }, /cryptoSuite/],
    ['a key with a line break', { host: '127.0.0.1', streams: [{ ...vp8, srtp: srtp(`${KEY_A.slice(0, 38)}\r\n`) }] }, /keyBase64/],
    ['a short key', { host: '127.0.0.1', streams: [{ ...vp8, srtp: srtp(KEY_A.slice(0, 20)) }] }, /keyBase64/],
    ['a source that is not an IP address', { host: '127.0.0.1', streams: [{ ...vp8, sourceIp: 'sfu.local' }] }, /sourceIp/],
    ['a source of the other IP family', { host: '127.0.0.1', streams: [{ ...vp8, sourceIp: '::1' }] }, /not an IPv4 address/],
    ['an fmtp key with a line break', { host: '127.0.0.1', streams: [{ ...opus, parameters: { 'a\r\nm=video': 1 } }] }, /bad fmtp/],
  ])('throws on %s', (_name, input, message) => {
    expect(() => buildSdp(input as { host: string; streams: TapStream[] })).toThrow(message);
  });
});
