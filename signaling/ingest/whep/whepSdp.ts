import { parse as parseSdp, parseParams } from 'sdp-transform';
import { AppError } from '../../../common/errors.ts';
import { mediaCodecs } from '../../../sfu/mediaCodecs.ts';
import {
  DtlsParametersSchema,
  RtpCapabilitiesSchema,
  RtpParametersSchema,
  type DtlsParameters,
  type MediaKind,
  type RtpCapabilities,
  type RtpParameters,
  type TransportOptions,
} from '../../../common/protocol/media.ts';
import { candidateLines } from '../sdpLines.ts';

/**
 * The SDP side of WHEP (docs/ingest.md, "WHEP"): mediasoup has no SDP, so a player's offer is
 * read into what mediasoup takes (the player's RTP capabilities, its DTLS fingerprint and
 * role, its media sections and their MIDs) and the answer is written from what mediasoup
 * made (the receive transport's ICE and DTLS parameters and candidates, one consumer per
 * media section). The player offers `recvonly` audio and video; the answer is ICE-lite,
 * bundled, `sendonly` with the consumers' payload types, header extensions and SSRCs (RTX in
 * an `ssrc-group:FID`). Pure functions: nothing here touches mediasoup.
 */

/** Media sections an offer may have; a player needs two (audio, video). */
export const MAX_MEDIA_SECTIONS = 16;

const bad = (message: string) => new AppError('VALIDATION_FAILED', `SDP offer: ${message}`);

/** One media section of the offer, in order. */
export interface OfferSection {
  /** `audio`, `video`, or anything else (refused in the answer). */
  type: string;
  mid: string;
  protocol: string;
  /** The offer's payload list (what a refused section repeats). */
  payloads: string;
  /** Whether the section can carry one of our tracks: audio or video, the player receives (recvonly or sendrecv), in the bundle. */
  usable: boolean;
}

/** What the answer and the transport need of an offer. */
export interface WhepOffer {
  sections: OfferSection[];
  /** The player's DTLS fingerprint and role, as mediasoup's `connect` takes it. */
  dtlsParameters: DtlsParameters;
  /** The answer's `a=setup`: the opposite of the player's role. */
  answerSetup: 'active' | 'passive';
  /** The offer's ICE credentials (an ICE restart changes them). */
  iceUfrag: string;
  icePwd: string;
  extmapAllowMixed: boolean;
  /** The player's receive capabilities (codecs, header extensions), from every usable section. */
  rtpCapabilities: RtpCapabilities;
}

/** The slots the player's offer has for tracks: a usable section per track, each with its MID. */
export function offerSlots(offer: WhepOffer): Array<{ kind: MediaKind; mid: string }> {
  return offer.sections.filter((s) => s.usable).map((s) => ({ kind: s.type as MediaKind, mid: s.mid }));
}

/**
 * Reads a player's offer.
 * @throws AppError('VALIDATION_FAILED') with what is wrong: not SDP, more than
 *   {@link MAX_MEDIA_SECTIONS} media sections, no audio or video section to receive, no
 *   BUNDLE, no ICE credentials, no usable DTLS fingerprint, no RTCP multiplexing.
 */
export function parseWhepOffer(text: string): WhepOffer {
  if (!/^v=0\r?\n/.test(text)) throw bad('not an SDP session description (it must start with v=0)');
  // Counted before parsing: a huge offer costs a scan, not an object per section.
  const sectionCount = text.match(/^m=/gm)?.length ?? 0;
  if (sectionCount === 0) throw bad('no media section');
  if (sectionCount > MAX_MEDIA_SECTIONS) throw bad(`${sectionCount} media sections; at most ${MAX_MEDIA_SECTIONS}`);
  let session: ReturnType<typeof parseSdp>;
  try {
    session = parseSdp(text);
  } catch (error) {
    throw bad(`unreadable (${error instanceof Error ? error.message.slice(0, 100) : 'parse error'})`);
  }
  const bundle = new Set(
    (session.groups ?? [])
      .filter((g) => g.type === 'BUNDLE')
      .flatMap((g) => asText(g.mids).split(' '))
      .filter((m) => m !== ''),
  );
  const sections: OfferSection[] = session.media.map((m, i) => {
    const mid = asText(m.mid);
    const direction = m.direction ?? session.direction ?? 'sendrecv';
    const usable = (m.type === 'audio' || m.type === 'video') && (direction === 'recvonly' || direction === 'sendrecv') && m.port !== 0 && mid !== '' && bundle.has(mid);
    if (mid.length > 32 || !/^[A-Za-z0-9_.-]*$/.test(mid)) throw bad(`media section ${i}: a=mid must be up to 32 letters, digits, _ . -`);
    return { type: m.type, mid, protocol: m.protocol, payloads: asText(m.payloads), usable };
  });
  const mids = sections.map((s) => s.mid).filter((m) => m !== '');
  if (new Set(mids).size !== mids.length) throw bad('two media sections share a MID');
  const used = session.media.filter((_m, i) => sections[i]?.usable);
  if (used.length === 0) {
    throw bad(bundle.size === 0 ? 'no BUNDLE group (a=group:BUNDLE): every section must share one transport' : 'no audio or video section to receive (a=recvonly, with a=mid, in the BUNDLE group)');
  }
  for (const m of used) {
    if (!/^UDP\/TLS\/RTP\/SAVPF$/.test(m.protocol)) throw bad(`media section ${m.mid ?? ''}: protocol ${m.protocol.slice(0, 40)}; only UDP/TLS/RTP/SAVPF`);
    if (!m.rtcpMux) throw bad(`media section ${m.mid ?? ''}: no a=rtcp-mux (RTP and RTCP must share the transport)`);
  }
  // Bundled: the first used section's transport attributes are the transport's.
  const first = used[0];
  const iceUfrag = asText(first?.iceUfrag ?? session.iceUfrag);
  const icePwd = asText(first?.icePwd ?? session.icePwd);
  if (!iceUfrag || !icePwd) throw bad('no ICE credentials (a=ice-ufrag, a=ice-pwd)');
  const fingerprint = first?.fingerprint ?? session.fingerprint;
  if (!fingerprint) throw bad('no DTLS fingerprint (a=fingerprint)');
  const setup = first?.setup ?? session.setup ?? 'actpass';
  if (setup !== 'actpass' && setup !== 'active' && setup !== 'passive') throw bad(`a=setup:${setup.slice(0, 20)} (actpass, active or passive)`);
  const dtls = DtlsParametersSchema.safeParse({
    // actpass: the answerer chooses; we are the DTLS server (passive), the player the client.
    role: setup === 'passive' ? 'server' : 'client',
    fingerprints: [{ algorithm: fingerprint.type.toLowerCase(), value: fingerprint.hash }],
  });
  if (!dtls.success) throw bad(`a=fingerprint:${fingerprint.type.slice(0, 20)}: an algorithm of sha-1, sha-224, sha-256, sha-384 or sha-512 and a hex fingerprint`);
  return {
    sections,
    dtlsParameters: dtls.data,
    answerSetup: setup === 'passive' ? 'active' : 'passive',
    iceUfrag,
    icePwd,
    extmapAllowMixed: session.extmapAllowMixed !== undefined,
    rtpCapabilities: capabilitiesOf(used),
  };
}

type MediaSection = ReturnType<typeof parseSdp>['media'][number];

/** A parsed value as text (sdp-transform reads some digits as numbers, whatever its types say). */
function asText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

/** The codecs a broadcast can be in (sfu/mediaCodecs.ts) and their retransmission: the rest of an offer's codecs are of no use to it. */
const USEFUL_CODECS = new Set([...mediaCodecs.map((c) => c.mimeType.toLowerCase()), 'video/rtx']);
type Codec = NonNullable<RtpCapabilities['codecs']>[number];
type HeaderExtension = NonNullable<RtpCapabilities['headerExtensions']>[number];

/**
 * The player's receive capabilities, as mediasoup-client reads a browser's: every codec of
 * every used section that a broadcast can be in (payload type → codec, with its fmtp
 * parameters and RTCP feedback; RTX of those codecs) and its header extensions, per kind. With BUNDLE, sections agree on payload types; the first
 * wins. Checked against the wire schema (sizes, shapes) as any client's capabilities are.
 */
function capabilitiesOf(sections: MediaSection[]): RtpCapabilities {
  const codecs = new Map<number, Codec>();
  const extensions = new Map<string, HeaderExtension>();
  for (const m of sections) {
    const kind = m.type as MediaKind;
    const mine = new Map<number, Codec>();
    for (const rtp of m.rtp) {
      const mimeType = `${kind}/${rtp.codec}`;
      if (codecs.has(rtp.payload) || rtp.rate === undefined || !USEFUL_CODECS.has(mimeType.toLowerCase())) continue;
      const codec: Codec = {
        kind,
        mimeType,
        preferredPayloadType: rtp.payload,
        clockRate: rtp.rate,
        ...(kind === 'audio' ? { channels: Number(rtp.encoding ?? 1) } : {}),
        parameters: {},
        rtcpFeedback: [],
      };
      mine.set(rtp.payload, codec);
    }
    for (const fmtp of m.fmtp) {
      const codec = mine.get(fmtp.payload);
      if (!codec) continue;
      const parameters: Record<string, string | number> = {};
      for (const [key, value] of Object.entries(parseParams(fmtp.config))) {
        // profile-level-id is hex: 42001f must not become a number.
        parameters[key] = key === 'profile-level-id' ? String(value) : value;
      }
      codec.parameters = parameters;
    }
    for (const fb of m.rtcpFb ?? []) {
      const subtype = asText(fb.subtype);
      const feedback = subtype ? { type: fb.type, parameter: subtype } : { type: fb.type };
      const targets = fb.payload === '*' ? [...mine.values()].filter((c) => !/\/rtx$/i.test(c.mimeType)) : [mine.get(Number(fb.payload))];
      for (const codec of targets) codec?.rtcpFeedback?.push(feedback);
    }
    for (const [pt, codec] of mine) {
      // Retransmission of a codec that is of no use is of no use either.
      const apt = codec.parameters?.apt;
      if (/\/rtx$/i.test(codec.mimeType) && (typeof apt !== 'number' || !mine.has(apt) || /\/rtx$/i.test(mine.get(apt)?.mimeType ?? ''))) continue;
      codecs.set(pt, codec);
    }
    for (const ext of m.ext ?? []) {
      if (ext['encrypt-uri']) continue;
      const key = `${kind} ${ext.value}`;
      if (!extensions.has(key)) extensions.set(key, { kind, uri: ext.uri, preferredId: ext.value });
    }
  }
  const parsed = RtpCapabilitiesSchema.safeParse({ codecs: [...codecs.values()], headerExtensions: [...extensions.values()] });
  if (!parsed.success) throw bad(`codecs or header extensions out of bounds (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''})`);
  return parsed.data;
}

/** A track of the answer: the consumer that fills the section with MID `mid`. */
export interface AnswerTrack {
  mid: string;
  kind: MediaKind;
  /** The consumer's RTP parameters (mediasoup's `consumer.rtpParameters`). */
  rtpParameters: unknown;
}

export interface AnswerInput {
  offer: WhepOffer;
  transport: Pick<TransportOptions, 'iceParameters' | 'iceCandidates' | 'dtlsParameters'>;
  tracks: AnswerTrack[];
  /** The session's id (the answer's `o=` line and stream id). */
  sessionId: string;
}

/**
 * The SDP answer: ICE-lite, one BUNDLE group of the sections that carry a track, each
 * `sendonly` with its consumer's codecs (and RTX), header extensions and SSRCs; every other
 * section refused (port 0, `a=inactive`).
 */
export function writeWhepAnswer({ offer, transport, tracks, sessionId }: AnswerInput): string {
  const byMid = new Map(tracks.map((t) => [t.mid, t]));
  const fingerprint = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? transport.dtlsParameters.fingerprints[0];
  if (!fingerprint) throw new AppError('INTERNAL', 'the transport has no DTLS fingerprint');
  const bundled = offer.sections.filter((s) => byMid.has(s.mid)).map((s) => s.mid);
  const lines = [
    'v=0',
    `o=- ${sessionVersionOf(sessionId)} 1 IN IP4 0.0.0.0`,
    's=-',
    't=0 0',
    'a=ice-lite',
    `a=group:BUNDLE ${bundled.join(' ')}`,
    ...(offer.extmapAllowMixed ? ['a=extmap-allow-mixed'] : []),
    `a=msid-semantic: WMS ${sessionId}`,
  ];
  for (const section of offer.sections) {
    const track = byMid.get(section.mid);
    if (!track) {
      lines.push(`m=${section.type} 0 ${section.protocol} ${section.payloads || '0'}`, 'c=IN IP4 0.0.0.0', ...(section.mid ? [`a=mid:${section.mid}`] : []), 'a=inactive');
      continue;
    }
    lines.push(...trackSection(track, transport, fingerprint, offer.answerSetup, sessionId));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** A numeric `o=` session id (RFC 4566: digits) derived from the session's id. */
function sessionVersionOf(sessionId: string): string {
  let n = 0n;
  for (const c of sessionId.slice(0, 16)) n = (n * 31n + BigInt(c.charCodeAt(0))) % 9_007_199_254_740_991n;
  return n.toString();
}

function trackSection(
  track: AnswerTrack,
  transport: AnswerInput['transport'],
  fingerprint: { algorithm: string; value: string },
  setup: 'active' | 'passive',
  sessionId: string,
): string[] {
  const parsed = RtpParametersSchema.safeParse(track.rtpParameters);
  if (!parsed.success) throw new AppError('INTERNAL', 'a consumer has RTP parameters the answer cannot carry');
  const p: RtpParameters = parsed.data;
  const encoding = p.encodings?.[0];
  const ssrc = encoding?.ssrc;
  if (ssrc === undefined) throw new AppError('INTERNAL', 'a consumer without an SSRC');
  const cname = p.rtcp?.cname ?? sessionId;
  const trackId = `${track.kind}-${track.mid}`;
  const lines = [
    `m=${track.kind} 9 UDP/TLS/RTP/SAVPF ${p.codecs.map((c) => c.payloadType).join(' ')}`,
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    `a=mid:${track.mid}`,
    'a=sendonly',
    `a=ice-ufrag:${transport.iceParameters.usernameFragment}`,
    `a=ice-pwd:${transport.iceParameters.password}`,
    `a=fingerprint:${fingerprint.algorithm} ${fingerprint.value}`,
    `a=setup:${setup}`,
    'a=rtcp-mux',
    ...(p.rtcp?.reducedSize === false ? [] : ['a=rtcp-rsize']),
    ...(p.headerExtensions ?? []).map((h) => `a=extmap:${h.id} ${h.uri}`),
  ];
  for (const c of p.codecs) {
    const [, name] = c.mimeType.split('/');
    lines.push(`a=rtpmap:${c.payloadType} ${name}/${c.clockRate}${c.channels !== undefined && c.channels > 1 ? `/${c.channels}` : ''}`);
    for (const fb of c.rtcpFeedback ?? []) lines.push(`a=rtcp-fb:${c.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
    const fmtp = Object.entries(c.parameters ?? {}).map(([k, v]) => `${k}=${String(v)}`);
    if (fmtp.length > 0) lines.push(`a=fmtp:${c.payloadType} ${fmtp.join(';')}`);
  }
  lines.push(`a=msid:${sessionId} ${trackId}`);
  const rtx = encoding?.rtx?.ssrc;
  if (rtx !== undefined) lines.push(`a=ssrc-group:FID ${ssrc} ${rtx}`);
  for (const s of rtx !== undefined ? [ssrc, rtx] : [ssrc]) lines.push(`a=ssrc:${s} cname:${cname}`, `a=ssrc:${s} msid:${sessionId} ${trackId}`);
  lines.push(...candidateLines(transport.iceCandidates));
  return lines;
}
