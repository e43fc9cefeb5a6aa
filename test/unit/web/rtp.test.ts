import { describe, expect, it } from 'vitest';
import { RtpCapabilitiesSchema, RtpParametersSchema } from '../../../common/protocol/media.ts';
import { isClientRtpParameters, toClientRtpCapabilities, toClientTransportOptions, toWireRtpCapabilities, toWireRtpParameters } from '../../../web/src/rtp.ts';

const routerCaps = RtpCapabilitiesSchema.parse({
  codecs: [
    { kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc' }] },
    { kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 101, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] },
    { kind: 'video', mimeType: 'video/H264', clockRate: 90000 },
  ],
  headerExtensions: [
    { kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1 },
    { kind: 'video', uri: 'urn:example:unknown', preferredId: 14 },
  ],
});

describe('toClientRtpCapabilities', () => {
  it('copies codecs and known header extensions, drops unusable entries', () => {
    const caps = toClientRtpCapabilities(routerCaps);
    expect(caps.codecs?.map((c) => c.mimeType)).toEqual(['audio/opus', 'video/VP8']);
    expect(caps.codecs?.[1]?.rtcpFeedback).toEqual([{ type: 'nack' }, { type: 'nack', parameter: 'pli' }]);
    expect(caps.headerExtensions?.map((e) => e.uri)).toEqual(['urn:ietf:params:rtp-hdrext:sdes:mid']);
    // No explicit undefined keys (mediasoup-client clones and validates these).
    expect(Object.keys(caps.codecs?.[1] ?? {})).not.toContain('channels');
  });

  it('round-trips through the wire schema', () => {
    const wire = toWireRtpCapabilities(toClientRtpCapabilities(routerCaps));
    expect(RtpCapabilitiesSchema.safeParse(wire).success).toBe(true);
  });
});

describe('toWireRtpParameters', () => {
  it('produces parameters the server schema accepts', () => {
    const wire = toWireRtpParameters({
      mid: '0',
      codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: { x: 1, nested: { no: true } }, rtcpFeedback: [{ type: 'nack' }] }],
      headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1 }],
      encodings: [
        { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000, active: true },
        { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
        { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
      ],
      rtcp: { cname: 'abc', reducedSize: true },
    });
    expect(RtpParametersSchema.safeParse(wire).success).toBe(true);
    expect(wire.codecs[0]?.parameters).toEqual({ x: 1 });
    expect(wire.encodings?.length).toBe(3);
  });
});

describe('toClientTransportOptions', () => {
  it('fills ip from address and keeps optional fields out when absent', () => {
    const opts = toClientTransportOptions({
      id: 't1',
      iceParameters: { usernameFragment: 'u', password: 'p', iceLite: true },
      iceCandidates: [{ foundation: 'f', priority: 1, address: '127.0.0.1', protocol: 'udp', port: 40000, type: 'host' }],
      dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD:EF:01:23:45:67:89:AB' }] },
    });
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- checks the deprecated field web/src/rtp.ts still sets
    expect(opts.iceCandidates[0]?.ip).toBe('127.0.0.1');
    expect('tcpType' in (opts.iceCandidates[0] ?? {})).toBe(false);
    expect('role' in opts.dtlsParameters).toBe(false);
    expect(opts.iceParameters.iceLite).toBe(true);
    expect('iceServers' in opts).toBe(false);
    expect('iceTransportPolicy' in opts).toBe(false);
  });

  it('hands TURN servers and the relay-only policy to mediasoup-client', () => {
    const turn = { urls: ['turns:turn.example.org:443?transport=tcp'], username: '1767225600:c3BhcmtsaW5n', credential: 'lFASZcMt2lcPCOQlXgIqJCFN8TY=' };
    const opts = toClientTransportOptions({
      id: 't1',
      iceParameters: { usernameFragment: 'u', password: 'p', iceLite: true },
      iceCandidates: [{ foundation: 'f', priority: 1, address: '127.0.0.1', protocol: 'udp', port: 40000, type: 'host' }],
      dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD:EF:01:23:45:67:89:AB' }] },
      iceServers: [turn],
      iceTransportPolicy: 'relay',
    });
    expect(opts.iceServers).toEqual([turn]);
    expect(opts.iceTransportPolicy).toBe('relay');
  });
});

describe('isClientRtpParameters', () => {
  it('accepts a plausible shape and rejects garbage', () => {
    expect(isClientRtpParameters({ codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000 }] })).toBe(true);
    expect(isClientRtpParameters({ codecs: [] })).toBe(false);
    expect(isClientRtpParameters(null)).toBe(false);
    expect(isClientRtpParameters({ codecs: [{ mimeType: 1 }] })).toBe(false);
  });
});
