import { AppError } from '../../common/errors.ts';
import type { TransportOptions } from '../../common/protocol/media.ts';

/**
 * The SDP both WebRTC-HTTP endpoints share (WHIP's, signaling/ingest/whip/whipSdp.ts, and
 * WHEP's, signaling/ingest/whep/whepSdp.ts), written once: the candidate lines of their
 * answers, and the trickle-ICE fragments of their PATCH requests (RFC 8840) and answers.
 */

/** The largest PATCH body read (a fragment carries credentials and a few candidates: ~1 KiB). */
export const MAX_FRAGMENT_BYTES = 64 * 1024;

/** One of the transport's ICE candidates as an `a=candidate` line (component 1: RTP and RTCP are muxed). */
export function candidateLine(c: TransportOptions['iceCandidates'][number]): string {
  return `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.address} ${c.port} typ ${c.type}${c.protocol === 'tcp' ? ` tcptype ${c.tcpType ?? 'passive'}` : ''}`;
}

/** Every candidate of the transport, then `a=end-of-candidates` (ICE-lite: there are no more). */
export function candidateLines(candidates: TransportOptions['iceCandidates']): string[] {
  return [...candidates.map(candidateLine), 'a=end-of-candidates'];
}

/** What a PATCH body (`application/trickle-ice-sdpfrag`, RFC 8840) says. */
export interface TrickleFragment {
  /** New ICE credentials of the client: the PATCH is an ICE restart (RFC 9725 §4.3.2). */
  restart?: { usernameFragment: string; password: string };
  /** The candidates it carries (the SFU is ICE-lite: they are accepted and not needed). */
  candidates: number;
}

const bad = (message: string) => new AppError('BAD_REQUEST', message);

/**
 * Reads a PATCH body of WHIP or WHEP.
 * @throws AppError PAYLOAD_TOO_LARGE (over {@link MAX_FRAGMENT_BYTES}), BAD_REQUEST (a line that
 *   is not `a=`/`m=`, only one of ice-ufrag and ice-pwd, or credentials of the wrong form).
 */
export function parseTrickleFragment(body: string): TrickleFragment {
  if (Buffer.byteLength(body, 'utf8') > MAX_FRAGMENT_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', `the fragment is over ${MAX_FRAGMENT_BYTES} bytes`);
  let ufrag: string | undefined;
  let pwd: string | undefined;
  let candidates = 0;
  for (const line of body.split(/\r?\n/)) {
    if (line === '') continue;
    if (!/^[am]=/.test(line)) throw bad(`not an SDP fragment: a line starts with ${JSON.stringify(line.slice(0, 2))}`);
    if (line.startsWith('a=ice-ufrag:')) ufrag = line.slice('a=ice-ufrag:'.length).trim();
    else if (line.startsWith('a=ice-pwd:')) pwd = line.slice('a=ice-pwd:'.length).trim();
    else if (line.startsWith('a=candidate:')) candidates += 1;
  }
  if ((ufrag === undefined) !== (pwd === undefined)) throw bad('an ICE restart needs both a=ice-ufrag and a=ice-pwd');
  if (ufrag !== undefined && pwd !== undefined) {
    // RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/"; ufrag 4–256, pwd 22–256 of them.
    if (!/^[A-Za-z0-9+/]{4,256}$/.test(ufrag) || !/^[A-Za-z0-9+/]{22,256}$/.test(pwd)) throw bad('a=ice-ufrag or a=ice-pwd is malformed');
    return { restart: { usernameFragment: ufrag, password: pwd }, candidates };
  }
  return { candidates };
}

/**
 * The answer to an ICE restart (RFC 9725 §4.3.2, RFC 8840): the transport's new credentials and
 * its candidates, under the first section of the bundle (every section is bundled on one transport).
 */
export function writeIceRestartFragment(
  transport: Pick<TransportOptions, 'iceParameters' | 'iceCandidates'>,
  section: { kind: string; mid: string | undefined },
): string {
  const lines = ['a=ice-lite', `a=ice-ufrag:${transport.iceParameters.usernameFragment}`, `a=ice-pwd:${transport.iceParameters.password}`, `m=${section.kind} 9 UDP/TLS/RTP/SAVPF 0`];
  if (section.mid !== undefined) lines.push(`a=mid:${section.mid}`);
  lines.push(...candidateLines(transport.iceCandidates));
  return `${lines.join('\r\n')}\r\n`;
}
