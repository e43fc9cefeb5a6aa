import type { types as ms } from 'mediasoup';
import { AppError } from '../common/errors.ts';
import type {
  ConsumerOptions,
  DtlsParameters,
  RtpCapabilities,
  RtpParameters,
  TransportOptions,
} from '../common/protocol/media.ts';

/**
 * Conversions between the wire contract (zod-derived types in common/protocol/media.ts)
 * and mediasoup's types. Only fields mediasoup understands are copied: anything else a
 * client sends stops here, and mediasoup then applies its own ORTC validation.
 */

const HEADER_EXTENSION_URIS: ReadonlySet<string> = new Set<ms.RtpHeaderExtensionUri>([
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'urn:3gpp:video-orientation',
  'urn:ietf:params:rtp-hdrext:toffset',
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
  'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
  'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension',
]);

function isKnownUri(uri: string): uri is ms.RtpHeaderExtensionUri {
  return HEADER_EXTENSION_URIS.has(uri);
}

/** Copies only the defined values of `o` (exactOptionalPropertyTypes forbids explicit undefined). */
function defined<T extends object>(o: { [K in keyof T]: T[K] | undefined }): T {
  const out: Partial<T> = {};
  for (const key of Object.keys(o) as Array<keyof T>) {
    const value = o[key];
    if (value !== undefined) out[key] = value;
  }
  return out as T;
}

function rtcpFeedback(fb: Array<{ type: string; parameter?: string | undefined }> | undefined): ms.RtcpFeedback[] | undefined {
  return fb?.map((f) => defined<ms.RtcpFeedback>({ type: f.type, parameter: f.parameter }));
}

/**
 * A producer's RTP parameters as mediasoup takes them. Header extensions mediasoup does not
 * know are dropped (the router would ignore them anyway).
 */
export function toMsRtpParameters(p: RtpParameters): ms.RtpParameters {
  return defined<ms.RtpParameters>({
    mid: p.mid,
    codecs: p.codecs.map((c) =>
      defined<ms.RtpCodecParameters>({
        mimeType: c.mimeType,
        payloadType: c.payloadType,
        clockRate: c.clockRate,
        channels: c.channels,
        parameters: c.parameters,
        rtcpFeedback: rtcpFeedback(c.rtcpFeedback),
      }),
    ),
    headerExtensions: p.headerExtensions?.flatMap((h) => {
      const uri = h.uri;
      return isKnownUri(uri)
        ? [defined<ms.RtpHeaderExtensionParameters>({ uri, id: h.id, encrypt: h.encrypt, parameters: h.parameters })]
        : [];
    }),
    encodings: p.encodings?.map((e) =>
      defined<ms.RtpEncodingParameters>({
        ssrc: e.ssrc,
        rid: e.rid,
        codecPayloadType: e.codecPayloadType,
        rtx: e.rtx ? { ssrc: e.rtx.ssrc } : undefined,
        dtx: e.dtx,
        scalabilityMode: e.scalabilityMode,
        maxBitrate: e.maxBitrate,
      }),
    ),
    rtcp: p.rtcp ? defined<ms.RtcpParameters>({ cname: p.rtcp.cname, reducedSize: p.rtcp.reducedSize }) : undefined,
  });
}

/**
 * A client's RTP capabilities as mediasoup takes them.
 * @throws AppError('VALIDATION_FAILED') for a codec without preferredPayloadType (every
 * real device's capabilities carry one).
 */
export function toMsRtpCapabilities(caps: RtpCapabilities): ms.RtpCapabilities {
  return defined<ms.RtpCapabilities>({
    codecs: caps.codecs?.map((c) => {
      if (c.preferredPayloadType === undefined) {
        throw new AppError('VALIDATION_FAILED', `rtpCapabilities: codec ${c.mimeType} has no preferredPayloadType`);
      }
      return defined<ms.RtpCodecCapability>({
        kind: c.kind,
        mimeType: c.mimeType,
        preferredPayloadType: c.preferredPayloadType,
        clockRate: c.clockRate,
        channels: c.channels,
        parameters: c.parameters,
        rtcpFeedback: rtcpFeedback(c.rtcpFeedback),
      });
    }),
    headerExtensions: caps.headerExtensions?.flatMap((h) => {
      const uri = h.uri;
      return isKnownUri(uri)
        ? [
            defined<ms.RtpHeaderExtension>({
              kind: h.kind,
              uri,
              preferredId: h.preferredId,
              preferredEncrypt: h.preferredEncrypt,
              direction: h.direction,
            }),
          ]
        : [];
    }),
  });
}

/** A router's capabilities in the wire shape (codec parameters narrowed to scalars). */
export function toWireRtpCapabilities(caps: ms.RtpCapabilities): RtpCapabilities {
  return defined<RtpCapabilities>({
    codecs: caps.codecs?.map((c) =>
      defined<NonNullable<RtpCapabilities['codecs']>[number]>({
        kind: c.kind,
        mimeType: c.mimeType,
        preferredPayloadType: c.preferredPayloadType,
        clockRate: c.clockRate,
        channels: c.channels,
        parameters: c.parameters ? scalarParameters(c.parameters) : undefined,
        rtcpFeedback: rtcpFeedback(c.rtcpFeedback),
      }),
    ),
    headerExtensions: caps.headerExtensions?.map((h) =>
      defined<NonNullable<RtpCapabilities['headerExtensions']>[number]>({
        kind: h.kind,
        uri: h.uri,
        preferredId: h.preferredId,
        preferredEncrypt: h.preferredEncrypt,
        direction: h.direction,
      }),
    ),
  });
}

function scalarParameters(p: Record<string, unknown>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(p)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  return out;
}

/** DTLS parameters as mediasoup takes them. */
export function toMsDtlsParameters(d: DtlsParameters): ms.DtlsParameters {
  return defined<ms.DtlsParameters>({
    role: d.role,
    fingerprints: d.fingerprints.map((f) => ({ algorithm: f.algorithm, value: f.value })),
  });
}

/** What a browser needs to create its side of `transport`. */
export function toTransportOptions(transport: ms.WebRtcTransport): TransportOptions {
  return {
    id: transport.id,
    iceParameters: transport.iceParameters,
    iceCandidates: transport.iceCandidates.map((c) => ({
      foundation: c.foundation,
      priority: c.priority,
      address: c.address,
      ip: c.ip,
      protocol: c.protocol,
      port: c.port,
      type: c.type,
      ...(c.tcpType !== undefined ? { tcpType: c.tcpType } : {}),
    })),
    dtlsParameters: toWireDtls(transport.dtlsParameters),
  };
}

function toWireDtls(d: ms.DtlsParameters): DtlsParameters {
  return {
    ...(d.role !== undefined ? { role: d.role } : {}),
    fingerprints: d.fingerprints.map((f) => ({ algorithm: f.algorithm, value: f.value })),
  };
}

/** What a viewer needs to create its side of `consumer`; `producerId` is the broadcast's (origin) id. */
export function toConsumerOptions(consumer: ms.Consumer, producerId: string): ConsumerOptions {
  return { id: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
}

/**
 * Maps an error mediasoup threw on client-supplied parameters: its ORTC validation
 * (TypeError) and unsupported codecs (UnsupportedError) are the client's fault; anything
 * else (e.g. the worker rejecting a request) is a media error.
 */
export function toAppError(error: unknown, what: string): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TypeError || (error instanceof Error && error.name === 'UnsupportedError')) {
    return new AppError('VALIDATION_FAILED', `${what}: ${message}`, { cause: error });
  }
  return new AppError('MEDIA_ERROR', `${what}: ${message}`, { cause: error });
}
