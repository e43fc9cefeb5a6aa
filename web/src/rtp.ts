import type * as ms from 'mediasoup-client/types';
import type { RtpCapabilities, RtpParameters, TransportOptions } from '../../common/protocol/media.ts';
import { isRecord } from './guards.ts';

/**
 * Conversions between the wire types of common/protocol/media.ts (derived from zod
 * schemas) and mediasoup-client's own types. They differ in small ways (header-extension
 * URIs are a closed union in mediasoup-client, codec parameters are `unknown` there,
 * optional properties under `exactOptionalPropertyTypes`), so each crossing copies the
 * fields explicitly. mediasoup-client validates the full ORTC shape itself afterwards.
 */

const HEADER_EXTENSION_URIS: ReadonlySet<string> = new Set<ms.RtpHeaderExtensionUri>([
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension',
  'urn:3gpp:video-orientation',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
  'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
  'urn:mediasoup:params:rtp-hdrext:packet-id',
]);

function isHeaderExtensionUri(uri: string): uri is ms.RtpHeaderExtensionUri {
  return HEADER_EXTENSION_URIS.has(uri);
}

type Feedback = { type: string; parameter?: string | undefined };

function feedback(list: readonly Feedback[] | undefined): ms.RtcpFeedback[] | undefined {
  return list?.map((f) => (f.parameter === undefined ? { type: f.type } : { type: f.type, parameter: f.parameter }));
}

/** Sets `to[key]` only when `value` is defined (exactOptionalPropertyTypes forbids explicit undefined). */
function copyDefined<T extends object, K extends keyof T>(to: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) to[key] = value;
}

/** The router's capabilities from `broadcast:start/resume/join`, for `device.load()`. */
export function toClientRtpCapabilities(caps: RtpCapabilities): ms.RtpCapabilities {
  const codecs: ms.RtpCodecCapability[] = [];
  for (const c of caps.codecs ?? []) {
    // mediasoup routers always set preferredPayloadType; a codec without one is unusable.
    if (c.preferredPayloadType === undefined) continue;
    const codec: ms.RtpCodecCapability = {
      kind: c.kind,
      mimeType: c.mimeType,
      preferredPayloadType: c.preferredPayloadType,
      clockRate: c.clockRate,
    };
    copyDefined(codec, 'channels', c.channels);
    copyDefined(codec, 'parameters', c.parameters);
    copyDefined(codec, 'rtcpFeedback', feedback(c.rtcpFeedback));
    codecs.push(codec);
  }
  const headerExtensions: ms.RtpHeaderExtension[] = [];
  for (const e of caps.headerExtensions ?? []) {
    // An extension this mediasoup-client does not know cannot be negotiated anyway.
    if (!isHeaderExtensionUri(e.uri)) continue;
    const ext: ms.RtpHeaderExtension = { kind: e.kind, uri: e.uri, preferredId: e.preferredId };
    copyDefined(ext, 'preferredEncrypt', e.preferredEncrypt);
    copyDefined(ext, 'direction', e.direction);
    headerExtensions.push(ext);
  }
  return { codecs, headerExtensions };
}

/** The device's receive capabilities, for `consume`. */
export function toWireRtpCapabilities(caps: ms.RtpCapabilities): RtpCapabilities {
  const out: RtpCapabilities = {};
  copyDefined(
    out,
    'codecs',
    caps.codecs?.map((c) => {
      const codec: NonNullable<RtpCapabilities['codecs']>[number] = {
        kind: c.kind,
        mimeType: c.mimeType,
        preferredPayloadType: c.preferredPayloadType,
        clockRate: c.clockRate,
      };
      copyDefined(codec, 'channels', c.channels);
      copyDefined(codec, 'parameters', wireParameters(c.parameters));
      copyDefined(codec, 'rtcpFeedback', feedback(c.rtcpFeedback));
      return codec;
    }),
  );
  copyDefined(
    out,
    'headerExtensions',
    caps.headerExtensions?.map((e) => {
      const ext: NonNullable<RtpCapabilities['headerExtensions']>[number] = { kind: e.kind, uri: e.uri, preferredId: e.preferredId };
      copyDefined(ext, 'preferredEncrypt', e.preferredEncrypt);
      copyDefined(ext, 'direction', e.direction);
      return ext;
    }),
  );
  return out;
}

/** Server transport options → mediasoup-client `createSendTransport/createRecvTransport` options. */
export function toClientTransportOptions(o: TransportOptions): ms.TransportOptions {
  const iceParameters: ms.IceParameters = {
    usernameFragment: o.iceParameters.usernameFragment,
    password: o.iceParameters.password,
  };
  copyDefined(iceParameters, 'iceLite', o.iceParameters.iceLite);
  const iceCandidates = o.iceCandidates.map((c): ms.IceCandidate => {
    const candidate: ms.IceCandidate = {
      foundation: c.foundation,
      priority: c.priority,
      address: c.address,
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- mediasoup-client still reads the deprecated `ip` of a candidate; kept as it was
      ip: c.ip ?? c.address,
      protocol: c.protocol,
      port: c.port,
      type: c.type,
    };
    copyDefined(candidate, 'tcpType', c.tcpType);
    return candidate;
  });
  const dtlsParameters: ms.DtlsParameters = {
    fingerprints: o.dtlsParameters.fingerprints.map((f) => ({ algorithm: f.algorithm, value: f.value })),
  };
  copyDefined(dtlsParameters, 'role', o.dtlsParameters.role);
  const out: ms.TransportOptions = { id: o.id, iceParameters, iceCandidates, dtlsParameters };
  // TURN servers with their credentials (RTCIceServer), so that the browser relays when no direct path works.
  copyDefined(
    out,
    'iceServers',
    o.iceServers?.map((s): RTCIceServer => ({ urls: [...s.urls], username: s.username, credential: s.credential })),
  );
  copyDefined(out, 'iceTransportPolicy', o.iceTransportPolicy);
  return out;
}

type WireParamValue = string | number | boolean;

function wireParameters(p: Record<string, unknown> | undefined): Record<string, WireParamValue> | undefined {
  if (p === undefined) return undefined;
  const out: Record<string, WireParamValue> = {};
  for (const [k, v] of Object.entries(p)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  return out;
}

/** mediasoup-client's `produce` parameters → the wire shape the server validates. */
export function toWireRtpParameters(p: ms.RtpParameters): RtpParameters {
  const out: RtpParameters = {
    codecs: p.codecs.map((c) => {
      const codec: RtpParameters['codecs'][number] = { mimeType: c.mimeType, payloadType: c.payloadType, clockRate: c.clockRate };
      copyDefined(codec, 'channels', c.channels);
      copyDefined(codec, 'parameters', wireParameters(c.parameters));
      copyDefined(codec, 'rtcpFeedback', feedback(c.rtcpFeedback));
      return codec;
    }),
  };
  copyDefined(out, 'mid', p.mid);
  copyDefined(out, 'msid', p.msid);
  copyDefined(
    out,
    'headerExtensions',
    p.headerExtensions?.map((e) => {
      const ext: NonNullable<RtpParameters['headerExtensions']>[number] = { uri: e.uri, id: e.id };
      copyDefined(ext, 'encrypt', e.encrypt);
      copyDefined(ext, 'parameters', wireParameters(e.parameters));
      return ext;
    }),
  );
  copyDefined(
    out,
    'encodings',
    p.encodings?.map((e) => {
      const enc: NonNullable<RtpParameters['encodings']>[number] = {};
      copyDefined(enc, 'active', e.active);
      copyDefined(enc, 'ssrc', e.ssrc);
      copyDefined(enc, 'rid', e.rid);
      copyDefined(enc, 'codecPayloadType', e.codecPayloadType);
      copyDefined(enc, 'rtx', e.rtx === undefined ? undefined : { ssrc: e.rtx.ssrc });
      copyDefined(enc, 'dtx', e.dtx);
      copyDefined(enc, 'scalabilityMode', e.scalabilityMode);
      copyDefined(enc, 'scaleResolutionDownBy', e.scaleResolutionDownBy);
      copyDefined(enc, 'maxBitrate', e.maxBitrate);
      copyDefined(enc, 'maxFramerate', e.maxFramerate);
      copyDefined(enc, 'adaptivePtime', e.adaptivePtime);
      copyDefined(enc, 'priority', e.priority);
      copyDefined(enc, 'networkPriority', e.networkPriority);
      return enc;
    }),
  );
  if (p.rtcp !== undefined) {
    const rtcp: NonNullable<RtpParameters['rtcp']> = {};
    copyDefined(rtcp, 'cname', p.rtcp.cname);
    copyDefined(rtcp, 'reducedSize', p.rtcp.reducedSize);
    copyDefined(rtcp, 'mux', p.rtcp.mux);
    out.rtcp = rtcp;
  }
  return out;
}

/**
 * A consumer's `rtpParameters` arrive as `unknown` (ConsumerOptions). The shallow check
 * here rejects garbage early; `transport.consume()` runs mediasoup-client's full ORTC
 * validation on the rest.
 */
export function isClientRtpParameters(x: unknown): x is ms.RtpParameters {
  return (
    isRecord(x) &&
    Array.isArray(x['codecs']) &&
    x['codecs'].length > 0 &&
    x['codecs'].every((c) => isRecord(c) && typeof c['mimeType'] === 'string' && typeof c['payloadType'] === 'number')
  );
}
