import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';

/**
 * Cheap synthetic WebRTC peers for load and fault tests: the ICE + DTLS leg of every WebRTC
 * transport the signalling process creates is replaced by a plain RTP leg.
 *
 * Installed in the signalling process (in-process with {@link installPlainWebRtc}, or in a
 * child process through `--import testkit/plainWebRtc.preload.mjs`), it wraps every
 * mediasoup router's `createWebRtcTransport` so that it creates a PlainTransport on the same
 * router instead: 127.0.0.1, RTP and RTCP muxed on one port, `comedia` (mediasoup learns the
 * peer's address from its first datagram), no SRTP. The transport is dressed up with the
 * three fields Spyglass reads from a WebRtcTransport: `iceParameters` (dummy),
 * `iceCandidates` (one host candidate: the PlainTransport's own port, which is how the
 * synthetic peer finds it) and `dtlsParameters` (dummy); its `connect()` ignores the DTLS
 * parameters. Everything else is Spyglass's own code: socket.io signalling, Broadcast,
 * Viewer, consumers (paused, then resumed with a key-frame request), producers, recording
 * taps, edge routers, worker replacement.
 *
 * What is emulated, exactly: ICE, DTLS and SRTP. The peers (see plainPeers.ts) send and
 * receive unencrypted RTP/RTCP on the port of the candidate.
 */

/** appData marker on the PlainTransports that stand in for WebRtcTransports. */
export const PLAIN_WEBRTC_ROLE = 'plain-webrtc';

let onNewWorker: ((worker: ms.Worker) => void) | undefined;

/** Wraps the routers of every mediasoup worker created from now on in this process. Idempotent. */
export function installPlainWebRtc(): void {
  if (onNewWorker) return;
  onNewWorker = (worker) => worker.observer.on('newrouter', (router) => wrapRouter(router));
  mediasoup.observer.on('newworker', onNewWorker);
}

/**
 * Leaves the workers created from now on alone (those created meanwhile keep wrapping their
 * routers): a process that runs other things afterwards (the benchmark runner) gets real
 * WebRtcTransports again. Idempotent.
 */
export function uninstallPlainWebRtc(): void {
  if (!onNewWorker) return;
  mediasoup.observer.off('newworker', onNewWorker);
  onNewWorker = undefined;
}

function wrapRouter(router: ms.Router): void {
  const plain = async (opts: ms.WebRtcTransportOptions): Promise<ms.WebRtcTransport> => {
    const transport = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: true,
      comedia: true,
      appData: { ...(opts.appData ?? {}), emulated: PLAIN_WEBRTC_ROLE },
    });
    const port = transport.tuple.localPort;
    Object.defineProperties(transport, {
      iceParameters: { value: { usernameFragment: 'plain', password: 'plain-rtp-no-ice', iceLite: true } },
      iceCandidates: {
        value: [{ foundation: 'plain', priority: 1, ip: '127.0.0.1', address: '127.0.0.1', protocol: 'udp', port, type: 'host' }],
      },
      dtlsParameters: { value: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: '00'.repeat(32).replace(/(..)(?=.)/g, '$1:') }] } },
      // comedia: nothing to connect; the DTLS parameters are the dummy peer's.
      connect: { value: async () => undefined },
    });
    return transport as unknown as ms.WebRtcTransport;
  };
  (router as unknown as { createWebRtcTransport: typeof plain }).createWebRtcTransport = plain;
}
