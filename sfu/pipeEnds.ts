import type { types as ms } from 'mediasoup';
import type { PipeEndpoint } from '../common/cluster/pipeProtocol.ts';

/** Where one side of a cross-node pipe binds, and the address the other side reaches it on. */
export interface PipeListen {
  listenIp: string;
  announcedAddress: string;
}

/** A PipeTransport for a pipe between nodes: SRTP (AEAD_AES_256_GCM) and RTX (so NACKs repair loss on the link). */
export function createNodePipeTransport(router: ms.Router, where: PipeListen, appData: Record<string, unknown>): Promise<ms.PipeTransport> {
  return router.createPipeTransport({
    listenInfo: { protocol: 'udp', ip: where.listenIp, announcedAddress: where.announcedAddress },
    enableSrtp: true,
    enableRtx: true,
    appData,
  });
}

/** This side's endpoint, as the other side connects to it. */
export function endpointOf(transport: ms.PipeTransport, where: PipeListen): PipeEndpoint {
  const srtp = transport.srtpParameters;
  if (srtp?.cryptoSuite !== 'AEAD_AES_256_GCM') throw new Error('the pipe transport has no AEAD_AES_256_GCM key');
  return { ip: where.announcedAddress, port: transport.tuple.localPort, srtp: { cryptoSuite: srtp.cryptoSuite, keyBase64: srtp.keyBase64 } };
}
