import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { BroadcastSummary } from '../../common/protocol/events.ts';
import type { ConsumerOptions, RtpCapabilities } from '../../common/protocol/media.ts';
import { audioRtpParameters, videoSimulcastRtpParameters } from '../fixtures/rtp.ts';
import { ok, type ClientSocket } from '../../testkit/server.ts';

/**
 * Broadcasters and viewers that speak the socket.io protocol but send no media: producers from
 * recorded RTP parameters and transports whose DTLS never completes. Enough for what the
 * server counts (producers, consumers, viewers), at no CPU cost.
 */

/** A DTLS fingerprint shape mediasoup accepts (no handshake happens). */
export const FAKE_DTLS = {
  role: 'client' as const,
  fingerprints: [{ algorithm: 'sha-256' as const, value: Array.from({ length: 32 }, () => 'AB').join(':') }],
};

/** Goes live on `socket` (signed in) with audio and simulcast video producers; public unless `o` says otherwise. */
export async function goLiveFake(
  socket: ClientSocket,
  title: string,
  o: { visibility?: 'public' | 'private'; invitees?: string[] } = {},
): Promise<BroadcastSummary> {
  const { broadcast } = await ok(socket, 'broadcast:start', { title, visibility: o.visibility ?? 'public', invitees: o.invitees ?? [] });
  const transport = await ok(socket, 'transport:create', { broadcastId: broadcast.id });
  await ok(socket, 'transport:connect', { broadcastId: broadcast.id, transportId: transport.id, dtlsParameters: FAKE_DTLS });
  await ok(socket, 'produce', { broadcastId: broadcast.id, transportId: transport.id, kind: 'audio', rtpParameters: audioRtpParameters });
  await ok(socket, 'produce', { broadcastId: broadcast.id, transportId: transport.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
  return broadcast;
}

/** A joined viewer consumes every track of the broadcast (one consumer each, on this node). */
export async function consumeAll(socket: ClientSocket, broadcastId: BroadcastId, rtpCapabilities: RtpCapabilities): Promise<ConsumerOptions[]> {
  const transport = await ok(socket, 'transport:create', { broadcastId });
  await ok(socket, 'transport:connect', { broadcastId, transportId: transport.id, dtlsParameters: FAKE_DTLS });
  const { consumers } = await ok(socket, 'consume', { broadcastId, transportId: transport.id, rtpCapabilities });
  return consumers;
}
