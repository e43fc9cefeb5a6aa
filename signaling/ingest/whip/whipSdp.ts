import { parse, type MediaAttributes, type SessionDescription } from 'sdp-transform';
import { AppError } from '../../../common/errors.ts';
import type { DtlsParameters, MediaKind, RtpCapabilities, RtpParameters, TransportOptions } from '../../../common/protocol/media.ts';
import { sameH264Profile } from './h264Profile.ts';
import { candidateLines } from '../sdpLines.ts';

/**
 * WHIP's SDP ⇄ mediasoup translation (docs/ingest.md, "WHIP"). mediasoup has no SDP layer: an
 * encoder's offer becomes the transport's remote DTLS parameters and one producer's RTP
 * parameters per track, and the transport's ICE and DTLS parameters plus the accepted codecs
 * become the answer. Pure functions over strings; the HTTP side is whipRouter.ts.
 *
 * What an offer must be: at most one audio and one video section that send media (sendonly or
 * sendrecv, DTLS-SRTP, rtcp-mux), bundled when there are two, a video section in any case;
 * each with a codec the router receives (matched against its RTP capabilities: Opus, VP8,
 * H.264 packetization-mode 1 in a profile the router lists) and an SSRC (`a=ssrc`, with RTX
 * from `a=ssrc-group:FID`, or legacy simulcast `a=ssrc-group:SIM`) or RIDs (`a=rid` +
 * `a=simulcast:send`, at most 4 layers, lowest first). Other sections (data channels, disabled
 * or receive-only ones) are answered as rejected (port 0). Trickle candidates in the offer are
 * not needed: the SFU is ICE-lite and learns the encoder's address from its checks.
 */

/** The largest offer or trickle fragment taken, in bytes (RFC 9725 sets none; 64 KiB is ~30 times a real offer). */
export const MAX_SDP_BYTES = 64 * 1024;
/** More m-sections than this are refused before the SDP is parsed. */
const MAX_SECTIONS = 8;
/** RTP header extensions kept from an offer (the others are left out of the answer): see KEPT_EXTENSIONS' comments. */
const KEPT_EXTENSIONS: ReadonlySet<string> = new Set([
  // BUNDLE demultiplexing of the two sections (mediasoup routes by MID before RID).
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  // Simulcast by RID, and the RTX streams of each layer.
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  // Bandwidth estimation for the encoder: with transport-wide-cc the SFU sends transport-cc
  // feedback (send-side estimation, what Chromium uses), with abs-send-time REMB (for encoders
  // without transport-cc). Without either, an encoder that adapts its bitrate (Chromium) would
  // stay at its start rate.
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  // Audio levels for the SFU's observers; a phone's rotation, so viewers see it upright.
  'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'urn:3gpp:video-orientation',
]);
const RID_EXTENSIONS: ReadonlySet<string> = new Set(['urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id']);
/** Payload formats that are not a codec of their own (retransmission, redundancy, FEC, comfort noise, DTMF). */
const NOT_A_CODEC = /^(rtx|red|ulpfec|flexfec-03|cn|telephone-event)$/i;

type CodecCapability = NonNullable<RtpCapabilities['codecs']>[number];
type RtpCodec = RtpParameters['codecs'][number];
type Fingerprint = DtlsParameters['fingerprints'][number];

/** One track the offer sends that the server takes: a producer's parameters. */
export interface WhipTrack {
  kind: MediaKind;
  rtpParameters: RtpParameters;
}

/** One m-section of the offer, as the answer reflects it (same order, same mid). */
export interface OfferSection {
  /** `audio`, `video`, `application`, …, as offered. */
  type: string;
  protocol: string;
  mid: string | undefined;
  /** The first payload format of the m-line (a rejected section's m-line repeats it). */
  firstFormat: string;
  /** The track taken from it; undefined: rejected (port 0 in the answer). */
  track?: WhipTrack;
  /** The offer asked for reduced-size RTCP. */
  rtcpReducedSize: boolean;
  /** The RIDs of a simulcast section, lowest layer first, as the answer's `a=rid:… recv` lines. */
  rids: string[];
  /**
   * Parameters the answer adds to the chosen format's `a=fmtp` and the producer does not carry:
   * the router's `x-google-*` hints (`x-google-start-bitrate`: Chromium starts near 1 Mbit/s
   * instead of ramping up from ~300 kbit/s, so simulcast's upper layers start at once).
   */
  answerHints: Record<string, string | number | boolean>;
}

/** What an offer gives the server: the encoder's ICE and DTLS side, and its tracks. */
export interface WhipOffer {
  ice: { usernameFragment: string; password: string };
  /** The encoder's DTLS parameters; its role is `client` (the answer says `a=setup:passive`). */
  dtlsParameters: DtlsParameters;
  sections: OfferSection[];
  /** The accepted tracks, in the offer's order (at most one audio and one video, always a video). */
  tracks: WhipTrack[];
  /** The mids of the accepted sections when the offer bundles them (the answer's BUNDLE group). */
  bundle: string[] | undefined;
  extmapAllowMixed: boolean;
}

const bad = (message: string) => new AppError('BAD_REQUEST', message);
const unsupported = (message: string) => new AppError('UNSUPPORTED_OFFER', message);
const str = (v: string | number | undefined): string | undefined => (v === undefined ? undefined : String(v));

/**
 * Reads an encoder's offer against the router's RTP capabilities.
 * @throws AppError PAYLOAD_TOO_LARGE (over {@link MAX_SDP_BYTES}), BAD_REQUEST (not SDP: no
 *   `v=0`, no m-line, no ICE credentials or fingerprint), UNSUPPORTED_OFFER (SDP the server
 *   cannot take: too many sections, a codec it does not receive, no video, …; the message
 *   says what was offered and what would do).
 */
export function parseWhipOffer(sdp: string, capabilities: RtpCapabilities): WhipOffer {
  if (Buffer.byteLength(sdp, 'utf8') > MAX_SDP_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', `the offer is over ${MAX_SDP_BYTES} bytes`);
  if (!/^v=0\r?\n/.test(sdp)) throw bad('the body is not an SDP offer (SDP starts with "v=0")');
  const sectionCount = sdp.match(/^m=/gm)?.length ?? 0;
  if (sectionCount === 0) throw bad('the offer has no media section (m=)');
  if (sectionCount > MAX_SECTIONS) {
    throw unsupported(`the offer has ${sectionCount} media sections; WHIP ingest takes one audio and one video section`);
  }
  const session = parse(sdp);
  if (session.media.length !== sectionCount || session.media.some((m) => !m.type || !m.protocol)) throw bad('the offer has a malformed m= line');

  const sections: OfferSection[] = [];
  const tracks: WhipTrack[] = [];
  let ice: WhipOffer['ice'] | undefined;
  let fingerprint: Fingerprint | undefined;
  for (const [index, m] of session.media.entries()) {
    const section: OfferSection = {
      type: m.type,
      protocol: m.protocol,
      mid: str(m.mid),
      firstFormat: String(m.payloads ?? '').split(' ')[0] || '0',
      rtcpReducedSize: m.rtcpRsize !== undefined,
      rids: [],
      answerHints: {},
    };
    sections.push(section);
    if (!carriesMedia(m, session)) continue;
    const kind = m.type as MediaKind;
    const where = `media section ${index} (${kind}${section.mid === undefined ? '' : `, mid ${section.mid}`})`;
    if (!/^UDP\/TLS\/RTP\/SAVPF?$/i.test(m.protocol)) throw unsupported(`${where} is ${m.protocol}: WHIP media is DTLS-SRTP (UDP/TLS/RTP/SAVPF)`);
    if (tracks.some((t) => t.kind === kind)) throw unsupported(`the offer sends two ${kind} sections; WHIP ingest takes one audio and one video section`);
    const sectionIce = iceOf(m, session, where);
    const sectionFingerprint = fingerprintOf(m, session, where);
    if (ice && (ice.usernameFragment !== sectionIce.usernameFragment || ice.password !== sectionIce.password || fingerprint?.value !== sectionFingerprint.value)) {
      throw unsupported(`${where} has ICE credentials or a fingerprint of its own: bundle the media (a=group:BUNDLE, max-bundle)`);
    }
    ice = sectionIce;
    fingerprint = sectionFingerprint;
    assertSetup(m.setup ?? session.setup, where);
    if (m.rtcpMux === undefined) throw unsupported(`${where} has no a=rtcp-mux: RTP and RTCP must share the port`);
    const { track, rids, answerHints } = trackOf(m, kind, capabilities, where, section.mid);
    section.track = track;
    section.rids = rids;
    section.answerHints = answerHints;
    tracks.push(track);
  }
  if (!ice || !fingerprint) throw unsupported('the offer sends no media: WHIP ingest takes a sendonly video section and optionally an audio one');
  if (!tracks.some((t) => t.kind === 'video')) throw unsupported('the offer has no video: a broadcast needs a video section (audio alone is not taken)');
  const bundle = bundleOf(session, sections);
  return {
    ice,
    dtlsParameters: { role: 'client', fingerprints: [fingerprint] },
    sections,
    tracks,
    bundle,
    extmapAllowMixed: session.extmapAllowMixed !== undefined,
  };
}

/** Whether a section sends media the server takes: audio or video, not disabled, sending. */
function carriesMedia(m: MediaAttributes, session: SessionDescription): boolean {
  if (m.type !== 'audio' && m.type !== 'video') return false;
  if (m.port === 0 && m.bundleOnly === undefined) return false;
  const direction = m.direction ?? session.direction ?? 'sendrecv';
  return direction === 'sendonly' || direction === 'sendrecv';
}

function iceOf(m: MediaAttributes, session: SessionDescription, where: string): WhipOffer['ice'] {
  const usernameFragment = str(m.iceUfrag ?? session.iceUfrag);
  const password = str(m.icePwd ?? session.icePwd);
  if (!usernameFragment || !password) throw bad(`${where} has no a=ice-ufrag and a=ice-pwd`);
  // RFC 8839: ufrag 4–256 and pwd 22–256 ice-chars.
  if (!/^[A-Za-z0-9+/]{4,256}$/.test(usernameFragment) || !/^[A-Za-z0-9+/]{22,256}$/.test(password)) {
    throw bad(`${where}: a=ice-ufrag or a=ice-pwd is malformed`);
  }
  return { usernameFragment, password };
}

const FINGERPRINT_ALGORITHMS = new Set(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']);

function fingerprintOf(m: MediaAttributes, session: SessionDescription, where: string): Fingerprint {
  const f = m.fingerprint ?? session.fingerprint;
  if (!f) throw bad(`${where} has no a=fingerprint`);
  const algorithm = f.type.toLowerCase();
  if (!FINGERPRINT_ALGORITHMS.has(algorithm)) throw unsupported(`${where}: fingerprint algorithm ${f.type} is not one of sha-1, sha-224, sha-256, sha-384, sha-512`);
  if (!/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){19,63}$/.test(f.hash)) throw bad(`${where}: a=fingerprint is malformed`);
  return { algorithm: algorithm as Fingerprint['algorithm'], value: f.hash };
}

function assertSetup(setup: string | undefined, where: string): void {
  // The server answers passive (DTLS server): the encoder must be able to be the client.
  if (setup === undefined || setup === 'actpass' || setup === 'active') return;
  throw unsupported(`${where} has a=setup:${setup}; the server is the DTLS server (a=setup:passive), so offer actpass or active`);
}

/** The mids of the accepted sections, when the offer's BUNDLE group holds them all. */
function bundleOf(session: SessionDescription, sections: OfferSection[]): string[] | undefined {
  const accepted = sections.filter((s) => s.track);
  const group = session.groups?.find((g) => g.type === 'BUNDLE');
  const mids = new Set(String(group?.mids ?? '').split(' ').filter(Boolean));
  const bundled = accepted.every((s) => s.mid !== undefined && mids.has(s.mid));
  if (accepted.length > 1 && !bundled) throw unsupported('the offer does not bundle its audio and video (a=group:BUNDLE with both mids): the server receives both on one transport');
  return bundled ? accepted.map((s) => s.mid ?? '') : undefined;
}

/** The section's producer: its codec, header extensions, encodings and RTCP. */
function trackOf(
  m: MediaAttributes,
  kind: MediaKind,
  capabilities: RtpCapabilities,
  where: string,
  mid: string | undefined,
): { track: WhipTrack; rids: string[]; answerHints: OfferSection['answerHints'] } {
  const { codec, rtx, capability } = pickCodec(m, kind, capabilities, where);
  const answerHints = Object.fromEntries(Object.entries(capability.parameters ?? {}).filter(([k]) => k.startsWith('x-google-')));
  const rids = ridsOf(m, where);
  const headerExtensions = (m.ext ?? [])
    .filter((e) => KEPT_EXTENSIONS.has(e.uri) && (e.direction === undefined || e.direction === 'sendonly' || e.direction === 'sendrecv'))
    // The RID extensions only where the section is simulcast by RID.
    .filter((e) => rids.length > 0 || !RID_EXTENSIONS.has(e.uri))
    .filter((e) => capabilities.headerExtensions?.some((h) => h.kind === kind && h.uri === e.uri && h.direction !== 'sendonly' && h.direction !== 'inactive'))
    .map((e) => ({ uri: e.uri, id: e.value }));
  if (headerExtensions.some((h) => h.id < 1 || h.id > 255)) throw bad(`${where}: an a=extmap id is out of range`);
  let encodings: NonNullable<RtpParameters['encodings']>;
  if (rids.length > 0) {
    if (!headerExtensions.some((h) => h.uri === 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id')) {
      throw unsupported(`${where} is simulcast by RID without the rtp-stream-id header extension (a=extmap … urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id)`);
    }
    encodings = rids.map((rid) => ({ rid }));
  } else {
    encodings = ssrcEncodings(m, where, rtx !== undefined);
  }
  const cname = str(m.ssrcs?.find((s) => s.attribute === 'cname')?.value);
  const rtpParameters: RtpParameters = {
    ...(mid === undefined ? {} : { mid }),
    codecs: rtx ? [codec, rtx] : [codec],
    headerExtensions,
    encodings,
    rtcp: { ...(cname ? { cname } : {}), reducedSize: m.rtcpRsize !== undefined, mux: true },
  };
  return { track: { kind, rtpParameters }, rids, answerHints };
}

/** The first offered codec (in the offer's order of preference) the router receives, with its RTX. */
function pickCodec(m: MediaAttributes, kind: MediaKind, capabilities: RtpCapabilities, where: string): { codec: RtpCodec; rtx: RtpCodec | undefined; capability: CodecCapability } {
  const offered: string[] = [];
  const payloads = String(m.payloads ?? '').split(' ').filter(Boolean).map(Number);
  for (const pt of payloads) {
    const rtp = m.rtp.find((r) => r.payload === pt);
    if (!rtp || NOT_A_CODEC.test(rtp.codec)) continue;
    if (!Number.isInteger(pt) || pt < 0 || pt > 127) throw bad(`${where}: payload type ${pt} is out of range`);
    const parameters = fmtpOf(m, pt);
    offered.push(describe(rtp.codec, parameters));
    const channels = kind === 'audio' ? Number(rtp.encoding ?? 1) : undefined;
    const capability = capabilities.codecs?.find((c) => c.kind === kind && matches(c, `${kind}/${rtp.codec}`, rtp.rate, channels, parameters));
    if (!capability) continue;
    const rtcpFeedback = (m.rtcpFb ?? [])
      .filter((f) => String(f.payload) === String(pt) || f.payload === '*')
      .map((f) => ({ type: f.type, ...(f.subtype === undefined ? {} : { parameter: String(f.subtype) }) }))
      .filter((f) => capability.rtcpFeedback?.some((c) => c.type === f.type && (c.parameter ?? '') === (f.parameter ?? '')));
    const codec: RtpCodec = {
      mimeType: capability.mimeType,
      payloadType: pt,
      clockRate: capability.clockRate,
      ...(channels === undefined ? {} : { channels }),
      parameters,
      rtcpFeedback,
    };
    return { codec, rtx: rtxOf(m, kind, pt, capabilities), capability };
  }
  const accepted = [...new Set((capabilities.codecs ?? []).filter((c) => c.kind === kind && !/\/rtx$/i.test(c.mimeType)).map((c) => describe(c.mimeType.split('/')[1] ?? c.mimeType, c.parameters ?? {})))];
  throw unsupported(
    `${where} offers ${offered.length > 0 ? offered.join(', ') : 'no codec'}; the server receives ${kind} as ${accepted.join(', ')}` +
      (kind === 'video' ? ' (in OBS: Settings → Output → Video Encoder, an H.264 encoder)' : ''),
  );
}

/** A codec as the error messages name it: `H264 (profile-level-id 640032, packetization-mode 1)`. */
function describe(name: string, parameters: Record<string, string | number | boolean>): string {
  const shown = ['profile-level-id', 'packetization-mode', 'profile-id', 'profile']
    .filter((k) => parameters[k] !== undefined)
    .map((k) => `${k} ${String(parameters[k])}`);
  return shown.length > 0 ? `${name} (${shown.join(', ')})` : name;
}

function matches(c: CodecCapability, mimeType: string, clockRate: number | undefined, channels: number | undefined, parameters: Record<string, string | number | boolean>): boolean {
  if (c.mimeType.toLowerCase() !== mimeType.toLowerCase() || c.clockRate !== clockRate) return false;
  if (c.kind === 'audio' && (c.channels ?? 1) !== channels) return false;
  const capParams = c.parameters ?? {};
  switch (mimeType.toLowerCase()) {
    case 'video/h264':
      return (
        Number(parameters['packetization-mode'] ?? 0) === Number(capParams['packetization-mode'] ?? 0) &&
        sameH264Profile(str(parameters['profile-level-id'] as string | number | undefined), str(capParams['profile-level-id'] as string | number | undefined))
      );
    case 'video/vp9':
      return Number(parameters['profile-id'] ?? 0) === Number(capParams['profile-id'] ?? 0);
    default:
      return true;
  }
}

/** The RTX format of payload type `pt` (`a=fmtp:<rtx> apt=<pt>`), if the offer has one and the router takes RTX. */
function rtxOf(m: MediaAttributes, kind: MediaKind, pt: number, capabilities: RtpCapabilities): RtpCodec | undefined {
  if (!capabilities.codecs?.some((c) => c.kind === kind && c.mimeType.toLowerCase() === `${kind}/rtx`)) return undefined;
  for (const rtp of m.rtp) {
    if (rtp.codec.toLowerCase() !== 'rtx' || Number(fmtpOf(m, rtp.payload).apt) !== pt) continue;
    return { mimeType: `${kind}/rtx`, payloadType: rtp.payload, clockRate: rtp.rate ?? 90000, parameters: { apt: pt } };
  }
  return undefined;
}

/** `a=fmtp` parameters of a payload type: integers as numbers, `profile-level-id` always a string. */
function fmtpOf(m: MediaAttributes, pt: number): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  const config = m.fmtp.find((f) => f.payload === pt)?.config ?? '';
  for (const part of config.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(key) || value.length > 256) continue;
    out[key] = key !== 'profile-level-id' && /^\d{1,9}$/.test(value) ? Number(value) : value;
  }
  return out;
}

/** The send RIDs of a simulcast section, in `a=simulcast:send` order (taken as lowest layer first); none without simulcast. */
function ridsOf(m: MediaAttributes, where: string): string[] {
  const sim = m.simulcast;
  const list = sim?.dir1 === 'send' ? sim.list1 : sim?.dir2 === 'send' ? sim.list2 : undefined;
  if (list === undefined) return [];
  const declared = new Set((m.rids ?? []).filter((r) => r.direction === 'send').map((r) => String(r.id)));
  // Each ';'-separated stream may list alternatives (','); '~' marks one paused at first.
  const rids = String(list)
    .split(';')
    .map((alternatives) => (alternatives.split(',')[0] ?? '').replace(/^~/, ''))
    .filter((rid) => rid !== '');
  const unknown = rids.find((rid) => !declared.has(rid));
  if (unknown !== undefined) throw bad(`${where}: a=simulcast names RID ${unknown}, which has no a=rid:${unknown} send line`);
  if (rids.length > 4) throw unsupported(`${where} sends ${rids.length} simulcast layers; at most 4 are taken`);
  if (rids.some((rid) => rid.length > 32)) throw bad(`${where}: a RID is longer than 32 characters`);
  return rids;
}

/** Encodings by SSRC: one (with its RTX from `a=ssrc-group:FID`), or one per SSRC of `a=ssrc-group:SIM`. */
function ssrcEncodings(m: MediaAttributes, where: string, withRtx: boolean): NonNullable<RtpParameters['encodings']> {
  const ssrcs = [...new Set((m.ssrcs ?? []).map((s) => s.id))];
  if (ssrcs.some((s) => !Number.isInteger(s) || s < 0 || s > 0xffffffff)) throw bad(`${where}: an a=ssrc is out of range`);
  const groups = (m.ssrcGroups ?? []).map((g) => ({ semantics: g.semantics, ssrcs: String(g.ssrcs).split(' ').map(Number) }));
  const rtxOf = new Map<number, number>();
  for (const g of groups) {
    const [primary, repair] = g.ssrcs;
    if (g.semantics === 'FID' && primary !== undefined && repair !== undefined) rtxOf.set(primary, repair);
  }
  const repairs = new Set(rtxOf.values());
  const sim = groups.find((g) => g.semantics === 'SIM')?.ssrcs;
  const primaries = sim ?? ssrcs.filter((s) => !repairs.has(s)).slice(0, 1);
  if (primaries.length === 0) {
    throw unsupported(`${where} has neither a=ssrc nor a=rid with a=simulcast: the server could not tell its RTP stream`);
  }
  if (primaries.length > 4) throw unsupported(`${where} sends ${primaries.length} simulcast layers; at most 4 are taken`);
  return primaries.map((ssrc) => {
    const rtx = withRtx ? rtxOf.get(ssrc) : undefined;
    return { ssrc, ...(rtx === undefined ? {} : { rtx: { ssrc: rtx } }) };
  });
}

// ------------------------------------------------------------------ answer --

const CRLF = '\r\n';

/**
 * The answer to an accepted offer: ICE-lite, the transport's ICE credentials and candidates
 * (with `a=end-of-candidates`: the server trickles nothing), its DTLS fingerprint with
 * `a=setup:passive`, rtcp-mux, and per accepted section the chosen codec (and its RTX), the
 * kept header extensions and the RTCP feedback both sides do, receive-only; every other
 * section rejected (port 0).
 */
export function writeWhipAnswer(offer: WhipOffer, transport: TransportOptions): string {
  const wanted = offer.dtlsParameters.fingerprints[0]?.algorithm;
  const fingerprint =
    transport.dtlsParameters.fingerprints.find((f) => f.algorithm === wanted) ??
    transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ??
    transport.dtlsParameters.fingerprints[0];
  if (!fingerprint) throw new AppError('INTERNAL', 'the transport has no DTLS fingerprint');
  const lines: string[] = ['v=0', `o=spyglass ${Date.now()} 1 IN IP4 0.0.0.0`, 's=-', 't=0 0', 'a=ice-lite'];
  if (offer.bundle) lines.push(`a=group:BUNDLE ${offer.bundle.join(' ')}`);
  if (offer.extmapAllowMixed) lines.push('a=extmap-allow-mixed');
  lines.push('a=msid-semantic: WMS *');
  for (const section of offer.sections) {
    const track = section.track;
    if (!track) {
      lines.push(`m=${section.type} 0 ${section.protocol} ${section.firstFormat}`, 'c=IN IP4 0.0.0.0');
      if (section.mid !== undefined) lines.push(`a=mid:${section.mid}`);
      lines.push('a=inactive');
      continue;
    }
    const p = track.rtpParameters;
    lines.push(`m=${track.kind} 9 UDP/TLS/RTP/SAVPF ${p.codecs.map((c) => c.payloadType).join(' ')}`, 'c=IN IP4 0.0.0.0');
    if (section.mid !== undefined) lines.push(`a=mid:${section.mid}`);
    lines.push('a=recvonly');
    lines.push(...iceLines(transport));
    lines.push(`a=fingerprint:${fingerprint.algorithm} ${fingerprint.value}`, 'a=setup:passive', 'a=rtcp-mux');
    if (section.rtcpReducedSize) lines.push('a=rtcp-rsize');
    for (const [i, c] of p.codecs.entries()) {
      const name = c.mimeType.split('/')[1] ?? c.mimeType;
      lines.push(`a=rtpmap:${c.payloadType} ${name}/${c.clockRate}${c.channels !== undefined && c.channels > 1 ? `/${c.channels}` : ''}`);
      for (const f of c.rtcpFeedback ?? []) lines.push(`a=rtcp-fb:${c.payloadType} ${f.type}${f.parameter ? ` ${f.parameter}` : ''}`);
      const fmtp = Object.entries({ ...c.parameters, ...(i === 0 ? section.answerHints : {}) }).map(([k, v]) => `${k}=${String(v)}`);
      if (fmtp.length > 0) lines.push(`a=fmtp:${c.payloadType} ${fmtp.join(';')}`);
    }
    for (const h of p.headerExtensions ?? []) lines.push(`a=extmap:${h.id} ${h.uri}`);
    if (section.rids.length > 0) {
      for (const rid of section.rids) lines.push(`a=rid:${rid} recv`);
      lines.push(`a=simulcast:recv ${section.rids.join(';')}`);
    }
  }
  return lines.join(CRLF) + CRLF;
}

/** The transport's ICE credentials and candidates, ended (ICE-lite: there are no more). */
function iceLines(transport: TransportOptions): string[] {
  return [
    `a=ice-ufrag:${transport.iceParameters.usernameFragment}`,
    `a=ice-pwd:${transport.iceParameters.password}`,
    ...candidateLines(transport.iceCandidates),
  ];
}
