import type { types as ms } from 'mediasoup';
import { AppError } from '../common/errors.ts';
import type { MediaKind, RtpParameters } from '../common/protocol/media.ts';
import { toAppError, toMsRtpParameters } from './wire.ts';

/** Where a sender sends one track to a plain RTP ingest: RTP and RTCP on their own ports. */
export interface RtpIngestEndpoint {
  ip: string;
  port: number;
  rtcpPort: number;
}

/** What {@link openRtpIngest} opened: the transport owns the producer (closing it closes both). */
export interface RtpIngest {
  transport: ms.PlainTransport;
  producer: ms.Producer;
  rtp: RtpIngestEndpoint;
}

/**
 * One track of a broadcaster as plain RTP: a comedia PlainTransport on `router` (RTP and RTCP
 * on ports of their own, as ffmpeg and GStreamer send; no ICE, no DTLS, no SRTP: the first
 * sender to the port is taken) and its producer. Nothing is left open when it fails.
 * @throws AppError('VALIDATION_FAILED') parameters mediasoup rejects, ('MEDIA_ERROR') worker failures.
 */
export async function openRtpIngest(o: {
  router: ms.Router;
  listenIp: string;
  kind: MediaKind;
  rtpParameters: RtpParameters;
  /** The sockets' receive buffer in bytes (default: the OS's). */
  recvBufferSize?: number | undefined;
  appData: Record<string, unknown>;
}): Promise<RtpIngest> {
  let transport: ms.PlainTransport | undefined;
  try {
    transport = await o.router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: o.listenIp, ...(o.recvBufferSize ? { recvBufferSize: o.recvBufferSize } : {}) },
      rtcpMux: false,
      comedia: true,
      appData: o.appData,
    });
    const rtcpPort = transport.rtcpTuple?.localPort;
    if (rtcpPort === undefined) throw new AppError('MEDIA_ERROR', 'the RTP ingest has no RTCP port');
    const producer = await transport.produce({ kind: o.kind, rtpParameters: toMsRtpParameters(o.rtpParameters) });
    return { transport, producer, rtp: { ip: transport.tuple.localAddress, port: transport.tuple.localPort, rtcpPort } };
  } catch (error) {
    transport?.close();
    throw toAppError(error, 'produce RTP');
  }
}
