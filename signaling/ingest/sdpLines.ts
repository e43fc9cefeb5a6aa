import type { TransportOptions } from '../../common/protocol/media.ts';

/**
 * SDP lines both ingest answers write (WHIP's, signaling/ingest/whip/whipSdp.ts, and WHEP's,
 * signaling/ingest/whep/whepSdp.ts), written once.
 */

/** One of the transport's ICE candidates as an `a=candidate` line (component 1: RTP and RTCP are muxed). */
export function candidateLine(c: TransportOptions['iceCandidates'][number]): string {
  return `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.address} ${c.port} typ ${c.type}${c.protocol === 'tcp' ? ` tcptype ${c.tcpType ?? 'passive'}` : ''}`;
}

/** Every candidate of the transport, then `a=end-of-candidates` (ICE-lite: there are no more). */
export function candidateLines(candidates: TransportOptions['iceCandidates']): string[] {
  return [...candidates.map(candidateLine), 'a=end-of-candidates'];
}
