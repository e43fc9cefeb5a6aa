import { parse as parseSdp } from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../common/errors.ts';
import type { TransportOptions } from '../../../common/protocol/media.ts';
import { offerSlots, parseWhepOffer, writeWhepAnswer } from '../../../signaling/ingest/whep/whepSdp.ts';
import { chromiumRecvonlyOffer } from '../../fixtures/chromiumWhepOffer.ts';

/** A receive transport as mediasoup describes it (toTransportOptions), ICE-lite on a WebRtcServer. */
const transport: TransportOptions = {
  id: 't1',
  iceParameters: { usernameFragment: 'srvufrag0000000000000000000000000', password: 'srvpwd00000000000000000000000000', iceLite: true },
  iceCandidates: [
    { foundation: 'udpcandidate', priority: 1076558079, address: '192.0.2.10', ip: '192.0.2.10', protocol: 'udp', port: 40000, type: 'host' },
    { foundation: 'tcpcandidate', priority: 1076276479, address: '192.0.2.10', ip: '192.0.2.10', protocol: 'tcp', port: 40000, type: 'host', tcpType: 'passive' },
  ],
  dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: 'AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99' }] },
};

/** Consumers' RTP parameters as mediasoup makes them on a router numbered the player's way (Opus 111, H.264 42e01f 108, no RTX). */
const audioConsumer = {
  mid: '0',
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [] }],
  headerExtensions: [],
  encodings: [{ ssrc: 11111111 }],
  rtcp: { cname: 'broadcaster-cname', reducedSize: true },
};
const videoConsumer = {
  mid: '1',
  codecs: [
    {
      mimeType: 'video/H264',
      payloadType: 108,
      clockRate: 90000,
      parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
      rtcpFeedback: [{ type: 'nack', parameter: '' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    },
    { mimeType: 'video/rtx', payloadType: 109, clockRate: 90000, parameters: { apt: 108 }, rtcpFeedback: [] },
  ],
  headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4, encrypt: false, parameters: {} }],
  encodings: [{ ssrc: 22222222, rtx: { ssrc: 22222223 } }],
  rtcp: { cname: 'broadcaster-cname', reducedSize: true },
};

/** sdp-transform reads a lone number as a number, whatever its types say. */
const asText = (value: unknown): string => (typeof value === 'number' ? String(value) : (value as string));

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('VALIDATION_FAILED');
    return (error as AppError).message;
  }
  throw new Error('not refused');
}

describe('whepSdp: a Chromium recvonly offer', () => {
  const offer = parseWhepOffer(chromiumRecvonlyOffer);

  it('reads its sections, ICE credentials, DTLS fingerprint and role', () => {
    expect(offer.sections.map((s) => [s.type, s.mid, s.usable])).toEqual([
      ['audio', '0', true],
      ['video', '1', true],
    ]);
    expect(offerSlots(offer)).toEqual([
      { kind: 'audio', mid: '0' },
      { kind: 'video', mid: '1' },
    ]);
    expect([offer.iceUfrag, offer.icePwd]).toEqual(['vXwJ', 'qixQ9y6D0k7ZNtSYIJud/2T5']);
    // actpass: the player is the DTLS client, the answer passive.
    expect(offer.dtlsParameters).toEqual({
      role: 'client',
      fingerprints: [{ algorithm: 'sha-256', value: 'E2:6D:E5:B8:BA:D6:0B:6B:E1:EE:DD:13:79:34:D0:35:C4:BE:5B:92:8D:43:BB:66:EE:99:DB:26:59:19:EB:48' }],
    });
    expect(offer.answerSetup).toBe('passive');
    expect(offer.extmapAllowMixed).toBe(true);
  });

  it('reads its receive capabilities: the codecs a broadcast can be in, with the player’s payload types, parameters and feedback', () => {
    const codecs = offer.rtpCapabilities.codecs ?? [];
    expect(codecs.find((c) => c.mimeType === 'audio/opus')).toEqual({
      kind: 'audio',
      mimeType: 'audio/opus',
      preferredPayloadType: 111,
      clockRate: 48000,
      channels: 2,
      parameters: { minptime: 10, useinbandfec: 1 },
      rtcpFeedback: [{ type: 'transport-cc' }],
    });
    expect(codecs.find((c) => c.mimeType === 'video/VP8')).toMatchObject({
      preferredPayloadType: 96,
      rtcpFeedback: [{ type: 'goog-remb' }, { type: 'transport-cc' }, { type: 'ccm', parameter: 'fir' }, { type: 'nack' }, { type: 'nack', parameter: 'pli' }],
    });
    expect(codecs.find((c) => c.mimeType === 'video/H264' && c.parameters?.['profile-level-id'] === '42e01f' && c.parameters['packetization-mode'] === 1)).toMatchObject({
      preferredPayloadType: 108,
    });
    expect(codecs.find((c) => c.preferredPayloadType === 97)).toMatchObject({ mimeType: 'video/rtx', parameters: { apt: 96 } });
    // VP9, AV1, RED, ULPFEC, FlexFEC, G.722, PCMU… are of no use to a broadcast; nor is their RTX.
    const mimes = new Set(codecs.map((c) => c.mimeType));
    expect([...mimes].sort()).toEqual(['audio/opus', 'video/H264', 'video/VP8', 'video/rtx']);
    expect(codecs.filter((c) => c.mimeType === 'video/rtx').map((c) => c.parameters?.apt)).toEqual([96, 102, 104, 108, 114, 116, 39, 41, 43]);
    // Header extensions per kind, with the player's ids.
    expect(offer.rtpCapabilities.headerExtensions?.filter((h) => h.uri === 'urn:ietf:params:rtp-hdrext:sdes:mid')).toEqual([
      { kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 4 },
      { kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 4 },
    ]);
  });

  it('answers ICE-lite, bundled, sendonly with each consumer’s codecs, SSRCs and RTX group, candidates and fingerprint', () => {
    const text = writeWhepAnswer({
      offer,
      transport,
      tracks: [
        { mid: '0', kind: 'audio', rtpParameters: audioConsumer },
        { mid: '1', kind: 'video', rtpParameters: videoConsumer },
      ],
      sessionId: 'session1',
    });
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text).not.toMatch(/[^\r]\n/);
    const answer = parseSdp(text);
    expect(answer.icelite).toBe('ice-lite');
    expect(answer.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
    expect(answer.extmapAllowMixed).toBe('extmap-allow-mixed');
    const [audio, video] = answer.media;
    expect(audio).toMatchObject({ type: 'audio', protocol: 'UDP/TLS/RTP/SAVPF', direction: 'sendonly', setup: 'passive', rtcpMux: 'rtcp-mux' });
    // sdp-transform reads a lone number as a number.
    expect(String(audio?.payloads)).toBe('111');
    expect(String(audio?.mid)).toBe('0');
    expect(audio?.rtp).toEqual([{ payload: 111, codec: 'opus', rate: 48000, encoding: 2 }]);
    expect(audio?.fmtp).toEqual([{ payload: 111, config: 'minptime=10;useinbandfec=1' }]);
    expect(audio?.iceUfrag).toBe(transport.iceParameters.usernameFragment);
    expect(audio?.icePwd).toBe(transport.iceParameters.password);
    expect(audio?.fingerprint).toEqual({ type: 'sha-256', hash: transport.dtlsParameters.fingerprints[0]?.value });
    expect(audio?.ssrcs).toEqual([
      { id: 11111111, attribute: 'cname', value: 'broadcaster-cname' },
      { id: 11111111, attribute: 'msid', value: 'session1 audio-0' },
    ]);
    expect(audio?.candidates?.map((c) => [c.transport, c.ip, c.port, c.type, c.tcptype])).toEqual([
      ['udp', '192.0.2.10', 40000, 'host', undefined],
      ['tcp', '192.0.2.10', 40000, 'host', 'passive'],
    ]);
    expect(video).toMatchObject({ type: 'video', direction: 'sendonly', payloads: '108 109' });
    expect(video?.rtp).toEqual([
      { payload: 108, codec: 'H264', rate: 90000 },
      { payload: 109, codec: 'rtx', rate: 90000 },
    ]);
    expect(video?.rtcpFb).toEqual([
      { payload: 108, type: 'nack' },
      { payload: 108, type: 'nack', subtype: 'pli' },
      { payload: 108, type: 'ccm', subtype: 'fir' },
    ]);
    expect(video?.fmtp).toEqual([
      { payload: 108, config: 'packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1' },
      { payload: 109, config: 'apt=108' },
    ]);
    expect(video?.ext).toEqual([{ value: 4, uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' }]);
    expect(video?.ssrcGroups).toEqual([{ semantics: 'FID', ssrcs: '22222222 22222223' }]);
    expect(video?.ssrcs?.filter((s) => s.attribute === 'cname').map((s) => s.id)).toEqual([22222222, 22222223]);
  });

  it('refuses the sections it has no track for (port 0, inactive) and leaves them out of the bundle', () => {
    const answer = parseSdp(writeWhepAnswer({ offer, transport, tracks: [{ mid: '1', kind: 'video', rtpParameters: videoConsumer }], sessionId: 's' }));
    expect(answer.groups?.map((g) => [g.type, asText(g.mids)])).toEqual([['BUNDLE', '1']]);
    expect(answer.media.map((m) => [m.type, m.port, m.direction])).toEqual([
      ['audio', 0, 'inactive'],
      ['video', 9, 'sendonly'],
    ]);
  });
});

describe('whepSdp: offers it refuses, and how', () => {
  const replace = (from: string | RegExp, to: string) => chromiumRecvonlyOffer.replace(from, to);

  it.each([
    ['not SDP', 'hello', 'not an SDP session description'],
    ['no media section', 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n', 'no media section'],
    ['no BUNDLE', replace('a=group:BUNDLE 0 1\r\n', ''), 'no BUNDLE group'],
    ['nothing to receive', replace(/a=recvonly/g, 'a=sendonly'), 'no audio or video section to receive'],
    ['no fingerprint', replace(/a=fingerprint:[^\r]*\r\n/g, ''), 'no DTLS fingerprint'],
    ['an unknown fingerprint algorithm', replace(/a=fingerprint:sha-256/g, 'a=fingerprint:md5'), 'a=fingerprint:md5'],
    ['no ICE credentials', replace(/a=ice-pwd:[^\r]*\r\n/g, ''), 'no ICE credentials'],
    ['no rtcp-mux', replace(/a=rtcp-mux\r\n/g, ''), 'no a=rtcp-mux'],
    ['plain RTP', replace(/UDP\/TLS\/RTP\/SAVPF/g, 'RTP/AVP'), 'only UDP/TLS/RTP/SAVPF'],
    ['a bad setup', replace(/a=setup:actpass/g, 'a=setup:holdconn'), 'a=setup:holdconn'],
    ['two sections with one MID', replace('a=mid:1', 'a=mid:0').replace('BUNDLE 0 1', 'BUNDLE 0'), 'two media sections share a MID'],
  ])('%s', (_what, sdp, message) => {
    expect(refusal(() => parseWhepOffer(sdp))).toContain(message);
  });

  it('50 media sections: refused before it is parsed', () => {
    const audio = chromiumRecvonlyOffer.slice(chromiumRecvonlyOffer.indexOf('m=audio'), chromiumRecvonlyOffer.indexOf('m=video'));
    const sdp = chromiumRecvonlyOffer.slice(0, chromiumRecvonlyOffer.indexOf('m=audio')) + audio.repeat(50);
    expect(refusal(() => parseWhepOffer(sdp))).toBe('SDP offer: 50 media sections; at most 16');
  });

  it('a passive player: the answer is active and the player the DTLS server', () => {
    const offer = parseWhepOffer(chromiumRecvonlyOffer.replace(/a=setup:actpass/g, 'a=setup:passive'));
    expect([offer.answerSetup, offer.dtlsParameters.role]).toEqual(['active', 'server']);
  });

  it('a data channel and a second video section are offered nothing; the rest plays', () => {
    const video = chromiumRecvonlyOffer.slice(chromiumRecvonlyOffer.indexOf('m=video'));
    const data = 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:3\r\na=sctp-port:5000\r\n';
    const sdp = chromiumRecvonlyOffer.replace('BUNDLE 0 1', 'BUNDLE 0 1 2 3') + video.replace('a=mid:1', 'a=mid:2') + data;
    const offer = parseWhepOffer(sdp);
    expect(offer.sections.map((s) => [s.type, s.mid, s.usable])).toEqual([
      ['audio', '0', true],
      ['video', '1', true],
      ['video', '2', true],
      ['application', '3', false],
    ]);
    const answer = parseSdp(
      writeWhepAnswer({
        offer,
        transport,
        tracks: [
          { mid: '0', kind: 'audio', rtpParameters: audioConsumer },
          { mid: '1', kind: 'video', rtpParameters: videoConsumer },
        ],
        sessionId: 's',
      }),
    );
    expect(answer.media.map((m) => [m.type, m.port])).toEqual([
      ['audio', 9],
      ['video', 9],
      ['video', 0],
      ['application', 0],
    ]);
    expect(answer.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
  });
});
