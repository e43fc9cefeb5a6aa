import dgram from 'node:dgram';
import type { RtpEndpoint } from '../../testkit/media.ts';

/**
 * A switch between the synthetic broadcaster and several ingests: ffmpeg sends its RTP and
 * RTCP here, and the relay forwards each datagram to the ingest that is active (or drops it
 * when none is). It lets one sender feed two SFUs in turn, so that their measurement windows
 * can alternate. Each ingest always sees the same source addresses (the relay's sockets), as
 * comedia transports require. What an ingest sends back (RTCP receiver reports) is dropped.
 *
 * With `paceBitsPerSecond`, the video RTP is paced like a browser's sender (WebRTC's pacer:
 * 2.5 × the target bitrate, in 5 ms bursts): ffmpeg sends each frame's packets at once, a
 * keyframe as a burst of ~60 packets, which no browser does and which overflowed the worker's
 * ingest socket before its forwarding capacity was reached. Audio and RTCP are not paced.
 */
export class RtpRelay {
  /** Where ffmpeg sends. */
  readonly endpoints: { video: RtpEndpoint; audio: RtpEndpoint };
  readonly #sockets: dgram.Socket[];
  #target: { video: RtpEndpoint; audio: RtpEndpoint } | null = null;
  readonly #pace: number | null;
  readonly #queue: Array<{ msg: Buffer; port: number; ip: string }> = [];
  #timer: NodeJS.Timeout | null = null;
  #budget = 0;
  #lastTick = 0;
  /** Most video packets that waited in the pacer at once. */
  maxQueued = 0;

  private constructor(sockets: dgram.Socket[], paceBitsPerSecond: number | null) {
    this.#pace = paceBitsPerSecond;
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
        if (i === 0 && this.#pace) this.#enqueue(msg, port, ip);
        else socket.send(msg, port, ip);
      });
    });
  }

  #enqueue(msg: Buffer, port: number, ip: string): void {
    this.#queue.push({ msg, port, ip });
    this.maxQueued = Math.max(this.maxQueued, this.#queue.length);
    if (this.#timer) return;
    this.#drain();
    if (this.#queue.length > 0) this.#timer = setInterval(() => this.#drain(), 5);
  }

  /**
   * Sends what the budget allows: it grows at the pacing rate and holds at most 5 ms of it (a
   * burst of that size may go at once); a packet goes while the budget is positive, so it may
   * end in debt by one packet, paid back before the next.
   */
  #drain(): void {
    const now = performance.now();
    const rate = this.#pace! / 8;
    this.#budget = Math.min(this.#budget + ((now - this.#lastTick) / 1000) * rate, rate * 0.005);
    this.#lastTick = now;
    while (this.#queue.length > 0 && this.#budget > 0) {
      const { msg, port, ip } = this.#queue.shift()!;
      this.#budget -= msg.length;
      this.#sockets[0]!.send(msg, port, ip);
    }
    if (this.#queue.length === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  /** @param paceBitsPerSecond paces the video RTP at this rate (null: forwards at once). */
  static async open(paceBitsPerSecond: number | null = null): Promise<RtpRelay> {
    const sockets = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
        socket.on('error', () => undefined);
        await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
        return socket;
      }),
    );
    return new RtpRelay(sockets, paceBitsPerSecond);
  }

  /** The local ports of the relay's sockets (for their drop counters in /proc/net/udp). */
  get ports(): number[] {
    return this.#sockets.map((s) => s.address().port);
  }

  /** Sends from now on to `target` (null: drops everything). */
  set target(target: { video: RtpEndpoint; audio: RtpEndpoint } | null) {
    this.#target = target;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#queue.length = 0;
    for (const s of this.#sockets) s.close();
  }
}
