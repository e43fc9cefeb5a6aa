import dgram from 'node:dgram';
import type { RtpEndpoint } from './media.ts';

/**
 * A switch between the synthetic broadcaster and several ingests: ffmpeg sends its RTP and
 * RTCP here, and the relay forwards each datagram to the ingest that is active (or drops it
 * when none is). It lets one sender feed two SFUs in turn, so that their measurement windows
 * can alternate. Each ingest always sees the same source addresses (the relay's sockets), as
 * comedia transports require. What an ingest sends back (RTCP receiver reports) is dropped.
 */
export class RtpRelay {
  /** Where ffmpeg sends. */
  readonly endpoints: { video: RtpEndpoint; audio: RtpEndpoint };
  readonly #sockets: dgram.Socket[];
  #target: { video: RtpEndpoint; audio: RtpEndpoint } | null = null;

  private constructor(sockets: dgram.Socket[]) {
    this.#sockets = sockets;
    const port = (i: number) => sockets[i]!.address().port;
    this.endpoints = {
      video: { ip: '127.0.0.1', port: port(0), rtcpPort: port(1) },
      audio: { ip: '127.0.0.1', port: port(2), rtcpPort: port(3) },
    };
    const route: Array<(t: { video: RtpEndpoint; audio: RtpEndpoint }) => [number, string]> = [
      (t) => [t.video.port, t.video.ip],
      (t) => [t.video.rtcpPort, t.video.ip],
      (t) => [t.audio.port, t.audio.ip],
      (t) => [t.audio.rtcpPort, t.audio.ip],
    ];
    sockets.forEach((socket, i) => {
      // The first datagram on each socket comes from the sender (the ingests only learn the
      // relay's address from what it forwards): only that source goes through.
      let sender: string | undefined;
      socket.on('message', (msg, from) => {
        const source = `${from.address}:${from.port}`;
        sender ??= source;
        const target = this.#target;
        if (!target || source !== sender) return;
        const [port, ip] = route[i]!(target);
        socket.send(msg, port, ip);
      });
    });
  }

  static async open(): Promise<RtpRelay> {
    const sockets = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
        socket.on('error', () => undefined);
        await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
        return socket;
      }),
    );
    return new RtpRelay(sockets);
  }

  /** Sends from now on to `target` (null: drops everything). */
  set target(target: { video: RtpEndpoint; audio: RtpEndpoint } | null) {
    this.#target = target;
  }

  close(): void {
    for (const s of this.#sockets) s.close();
  }
}
