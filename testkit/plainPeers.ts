import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { io as connectSocket } from 'socket.io-client';
import type { Ack } from '../common/protocol/errors.ts';
import type { RequestInput, RequestName, Responses } from '../common/protocol/events.ts';
import type { RtpParameters, TransportOptions } from '../common/protocol/media.ts';
import { AUDIO_PT, AUDIO_SSRC, VIDEO_PT, VIDEO_SSRC, startRtpSender, type RtpEndpoint, type RtpSender } from './media.ts';
import type { ClientSocket } from './server.ts';

/**
 * The synthetic peers that talk to a Spyglass whose WebRTC transports are plain RTP (see
 * plainWebRtc.ts): a broadcaster and viewers that go through the whole socket.io protocol
 * and behave as the web client does (web/src/pages/live.ts, watch.ts): socket.io reconnects
 * by itself; after a reconnection or a `broadcast:interrupted` the broadcaster resumes and
 * re-publishes, a viewer joins again from scratch (and on `producer:new` of a kind it lacks);
 * `broadcast:ended` is final.
 *
 * The broadcaster's media is ffmpeg replaying a clip as RTP (testkit/media.ts), relayed
 * from one local socket to its send transport's port. A viewer receives on one UDP socket
 * and sends RTCP as a browser does: an empty receiver report at once (which also tells the
 * comedia transport where to send), a PLI when its video consumer is resumed, then every
 * second a receiver report per stream (loss, jitter, LSR/DLSR from the SFU's sender
 * reports) with a REMB estimate, and generic NACKs for the packets it lost. Loss is
 * emulated: `lossRate` of the video packets are dropped on arrival and NACKed, and the
 * retransmissions (RTX) are counted. The SFU negotiates neither transport-cc nor REMB with
 * viewers (sfu/viewerCapabilities.ts): the REMB they send is ignored (a browser would not
 * send it); their receiver reports (the consumer's score) are what the SFU adapts to.
 */

/** A dummy DTLS fingerprint (the plain transports ignore it; the schema wants hex pairs). */
const DUMMY_DTLS = { role: 'client' as const, fingerprints: [{ algorithm: 'sha-256' as const, value: Array(32).fill('AB').join(':') }] };

function socketTo(url: string, token?: string): ClientSocket {
  return connectSocket(url, {
    transports: ['websocket'],
    auth: token ? { token } : {},
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 2000,
    forceNew: true,
  });
}

async function ask<E extends RequestName>(socket: ClientSocket, event: E, payload: RequestInput<E>): Promise<Responses[E]> {
  const emit = socket.timeout(10_000).emit as unknown as (e: string, p: unknown, cb: (err: Error | null, res: Ack<Responses[E]>) => void) => void;
  const res = await new Promise<Ack<Responses[E]>>((resolve, reject) => {
    emit.call(socket, event, payload, (err, r) => (err ? reject(err) : resolve(r)));
  });
  if (!res.ok) throw new PeerError(res.error.code, `${event}: ${res.error.code} ${res.error.message}`);
  return res.data;
}

class PeerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const FINAL_CODES = new Set(['BROADCAST_ENDED', 'NOT_FOUND', 'FORBIDDEN']);

function portOf(t: TransportOptions): number {
  const c = t.iceCandidates[0];
  if (!c) throw new Error('transport without a candidate');
  return c.port;
}

async function boundSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  s.on('error', () => undefined);
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  return s;
}

function waitConnected(socket: ClientSocket): Promise<void> {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('socket.io did not connect within 15 s')), 15_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// ------------------------------------------------------------------ broadcaster --

/** What the synthetic broadcaster declares: exactly what the ffmpeg sender sends. */
const PRODUCE: Record<'video' | 'audio', RtpParameters> = {
  video: {
    mid: '0',
    codecs: [{ mimeType: 'video/VP8', payloadType: VIDEO_PT, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] }],
    encodings: [{ ssrc: VIDEO_SSRC }],
    rtcp: { cname: 'plain-broadcaster' },
  },
  audio: {
    mid: '1',
    codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO_PT, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } }],
    encodings: [{ ssrc: AUDIO_SSRC }],
    rtcp: { cname: 'plain-broadcaster' },
  },
};

export class PlainBroadcaster {
  readonly broadcastId: string;
  readonly socket: ClientSocket;
  /** Epoch ms of `broadcast:start`'s ack and of the end (stop, or `broadcast:ended`). */
  readonly startedAt: number;
  endedAt: number | null = null;
  endReason: string | null = null;
  /** Times the broadcaster re-published (after a reconnection or an interruption). */
  resumes = 0;
  resumeFailures: string[] = [];
  readonly #relay: Relay;
  readonly #sender: RtpSender;
  #resuming = false;
  #resumeAgain = false;
  #closed = false;

  private constructor(socket: ClientSocket, broadcastId: string, startedAt: number, relay: Relay, sender: RtpSender) {
    this.socket = socket;
    this.broadcastId = broadcastId;
    this.startedAt = startedAt;
    this.#relay = relay;
    this.#sender = sender;
    socket.on('broadcast:interrupted', (e) => {
      if (e.broadcastId === this.broadcastId) void this.#resume();
    });
    socket.on('broadcast:ended', (e) => {
      if (e.broadcastId !== this.broadcastId || this.endedAt !== null) return;
      this.endedAt = Date.now();
      this.endReason = e.reason;
    });
    // Constructed once connected: every later 'connect' is a reconnection.
    socket.on('connect', () => void this.#resume());
  }

  /**
   * Goes live (public) with `clip` replayed as its camera and microphone. `onSend` sees every
   * datagram (RTP and RTCP) just before it leaves for the SFU (bench:cascade times them).
   */
  static async start(
    url: string,
    token: string,
    clip: string,
    title = 'Synthetic broadcast',
    opts: { onSend?: (datagram: Buffer) => void } = {},
  ): Promise<PlainBroadcaster> {
    const socket = socketTo(url, token);
    const relay = await Relay.open(opts.onSend);
    let sender: RtpSender | undefined;
    try {
      await waitConnected(socket);
      const { broadcast } = await ask(socket, 'broadcast:start', { title, visibility: 'public', invitees: [] });
      const startedAt = Date.now();
      relay.target = await publish(socket, broadcast.id);
      sender = startRtpSender(clip, relay.endpoints.video, relay.endpoints.audio);
      return new PlainBroadcaster(socket, broadcast.id, startedAt, relay, sender);
    } catch (error) {
      await sender?.stop();
      relay.close();
      socket.close();
      throw error;
    }
  }

  get live(): boolean {
    return this.endedAt === null;
  }

  async #resume(attempt = 1): Promise<void> {
    if (this.#closed || this.endedAt !== null) return;
    if (this.#resuming) {
      this.#resumeAgain = true;
      return;
    }
    this.#resuming = true;
    try {
      this.#relay.target = null;
      await ask(this.socket, 'broadcast:resume', { broadcastId: this.broadcastId });
      this.#relay.target = await publish(this.socket, this.broadcastId);
      this.resumes += 1;
    } catch (error) {
      const code = error instanceof PeerError ? error.code : '';
      this.resumeFailures.push(error instanceof Error ? error.message : String(error));
      if (FINAL_CODES.has(code)) {
        this.endedAt ??= Date.now();
        this.endReason ??= `resume refused: ${code}`;
      } else if (attempt < 10 && this.socket.connected) {
        setTimeout(() => void this.#resume(attempt + 1), 1000 * attempt).unref();
      }
    } finally {
      this.#resuming = false;
      if (this.#resumeAgain) {
        this.#resumeAgain = false;
        void this.#resume();
      }
    }
  }

  /** Ends the broadcast (`broadcast:stop`). */
  async stop(): Promise<void> {
    await this.#sender.stop();
    if (this.endedAt === null) {
      await ask(this.socket, 'broadcast:stop', { broadcastId: this.broadcastId });
      this.endedAt = Date.now();
      this.endReason = 'stopped';
    }
  }

  /** Stops sending and disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sender.stop();
    this.#relay.close();
    this.socket.close();
  }
}

/** Creates a send transport and both producers; returns where to send the media. */
async function publish(socket: ClientSocket, broadcastId: string): Promise<number> {
  const transport = await ask(socket, 'transport:create', { broadcastId });
  await ask(socket, 'transport:connect', { broadcastId, transportId: transport.id, dtlsParameters: DUMMY_DTLS });
  for (const kind of ['video', 'audio'] as const) {
    await ask(socket, 'produce', { broadcastId, transportId: transport.id, kind, rtpParameters: PRODUCE[kind] });
  }
  return portOf(transport);
}

/** ffmpeg's four RTP/RTCP streams in, one socket out (a comedia transport only hears one source). */
class Relay {
  readonly endpoints: { video: RtpEndpoint; audio: RtpEndpoint };
  target: number | null = null;
  readonly #in: dgram.Socket[];
  readonly #out: dgram.Socket;

  private constructor(inputs: dgram.Socket[], out: dgram.Socket, onSend: ((datagram: Buffer) => void) | undefined) {
    this.#in = inputs;
    this.#out = out;
    const port = (i: number) => inputs[i]!.address().port;
    this.endpoints = {
      video: { ip: '127.0.0.1', port: port(0), rtcpPort: port(1) },
      audio: { ip: '127.0.0.1', port: port(2), rtcpPort: port(3) },
    };
    for (const s of inputs) {
      s.on('message', (msg) => {
        if (this.target === null) return;
        onSend?.(msg);
        out.send(msg, this.target, '127.0.0.1');
      });
    }
  }

  static async open(onSend?: (datagram: Buffer) => void): Promise<Relay> {
    const inputs = await Promise.all(Array.from({ length: 4 }, () => boundSocket()));
    return new Relay(inputs, await boundSocket(), onSend);
  }

  close(): void {
    for (const s of [...this.#in, this.#out]) s.close();
  }
}

// ----------------------------------------------------------------------- viewers --

/** What one viewer saw. Times are epoch ms. */
export interface ViewerStats {
  index: number;
  /** RTP packets received (media and RTX), and of those, video and audio media packets. */
  rtp: number;
  video: number;
  audio: number;
  /** When the first `broadcast:join` was sent (the connection was up by then), and when the first one was answered. */
  joinStartedAt: number | null;
  joinAnsweredAt: number | null;
  firstRtpAt: number | null;
  /** The first video media packet (not RTX). */
  firstVideoAt: number | null;
  lastRtpAt: number | null;
  /** Longest time without any RTP since the last {@link PlainViewers.resetGaps} (until now if nothing came since). */
  maxGapMs: number;
  /** Where that gap started. */
  maxGapAt: number | null;
  joins: number;
  joinFailures: number;
  /** Why the client learned the broadcast ended (`broadcast:ended`'s reason, or 'ended' from a refused join), and when. */
  ended: string | null;
  endedAt: number | null;
  rtcp: { rr: number; remb: number; pli: number; nackPackets: number; nackedSeqs: number; srReceived: number };
  /** Video packets dropped on purpose (emulated loss), and retransmissions that filled them. */
  loss: { dropped: number; recovered: number; rtxReceived: number };
}

interface StreamState {
  ssrc: number;
  kind: 'video' | 'audio';
  clockRate: number;
  rtxSsrc: number | null;
  baseSeq: number;
  maxExt: number;
  received: number;
  expectedPrior: number;
  receivedPrior: number;
  jitter: number;
  lastTransit: number | null;
  lastSrNtpMid: number;
  lastSrAt: number;
}

/** Options of {@link PlainViewers.join}. */
export interface ViewerOptions {
  /** Fraction of video packets dropped on arrival and NACKed (default 0.01). */
  lossRate?: number;
  /** REMB estimate the viewers report, bit/s (default 2 Mbit/s). */
  rembBps?: number;
  /** Sign-in tokens, one per viewer (default: anonymous viewers). */
  tokens?: string[];
  /** Sees every media packet (not RTX, not an emulated loss) a viewer receives, as it arrives (bench:cascade times them). */
  onRtp?: (viewer: number, packet: Buffer) => void;
}

type ViewerSettings = Required<Omit<ViewerOptions, 'tokens' | 'onRtp'>> & { onRtp: ViewerOptions['onRtp'] | undefined };

class PlainViewer {
  readonly stats: ViewerStats;
  readonly #socket: ClientSocket;
  readonly #udp: dgram.Socket;
  readonly #broadcastId: string;
  readonly #opts: ViewerSettings;
  readonly #senderSsrc = randomInt(1, 0xffffffff);
  #port: number | null = null;
  #streams = new Map<number, StreamState>();
  #byRtx = new Map<number, StreamState>();
  #pendingNacks = new Map<number, Set<number>>();
  #missing = new Set<string>();
  #gapFrom: number;
  #joining = false;
  #joinAgain = false;
  #closed = false;
  #timer: NodeJS.Timeout;

  constructor(index: number, socket: ClientSocket, udp: dgram.Socket, broadcastId: string, opts: ViewerSettings) {
    this.#socket = socket;
    this.#udp = udp;
    this.#broadcastId = broadcastId;
    this.#opts = opts;
    this.#gapFrom = Date.now();
    this.stats = {
      index,
      rtp: 0,
      video: 0,
      audio: 0,
      joinStartedAt: null,
      joinAnsweredAt: null,
      firstRtpAt: null,
      firstVideoAt: null,
      lastRtpAt: null,
      maxGapMs: 0,
      maxGapAt: null,
      joins: 0,
      joinFailures: 0,
      ended: null,
      endedAt: null,
      rtcp: { rr: 0, remb: 0, pli: 0, nackPackets: 0, nackedSeqs: 0, srReceived: 0 },
      loss: { dropped: 0, recovered: 0, rtxReceived: 0 },
    };
    udp.on('message', (msg) => this.#onDatagram(msg));
    socket.on('broadcast:interrupted', (e) => {
      if (e.broadcastId === broadcastId) void this.join();
    });
    socket.on('broadcast:ended', (e) => {
      if (e.broadcastId === broadcastId) this.#ended(e.reason);
    });
    // Joined before the broadcaster (re-)published a track: consume it (the web client does too).
    socket.on('producer:new', (e) => {
      if (e.broadcastId === broadcastId && ![...this.#streams.values()].some((st) => st.kind === e.kind)) void this.join();
    });
    let first = !socket.connected;
    socket.on('connect', () => {
      if (first) {
        first = false;
        return;
      }
      // The server forgets a viewer whose socket dropped: join from scratch.
      void this.join();
    });
    // Receiver reports and REMB once a second (browsers: about every second), NACKs every 20 ms.
    let tick = 0;
    this.#timer = setInterval(() => {
      this.#flushNacks();
      if (++tick % 50 === 0) this.#sendReports();
    }, 20);
  }

  async join(attempt = 1): Promise<void> {
    if (this.#closed || this.stats.ended !== null) return;
    if (this.#joining) {
      this.#joinAgain = true;
      return;
    }
    this.#joining = true;
    const id = this.#broadcastId;
    try {
      this.#port = null;
      this.stats.joinStartedAt ??= Date.now();
      const res = await ask(this.#socket, 'broadcast:join', { broadcastId: id });
      this.stats.joinAnsweredAt ??= Date.now();
      if (res.broadcast.status === 'ended') {
        this.#ended('ended');
        return;
      }
      const transport = await ask(this.#socket, 'transport:create', { broadcastId: id });
      await ask(this.#socket, 'transport:connect', { broadcastId: id, transportId: transport.id, dtlsParameters: DUMMY_DTLS });
      this.#port = portOf(transport);
      // An empty receiver report: the comedia transport learns where to send.
      this.#send(rtcpReceiverReport(this.#senderSsrc, []));
      const { consumers } = await ask(this.#socket, 'consume', { broadcastId: id, transportId: transport.id, rtpCapabilities: res.rtpCapabilities });
      this.#streams = new Map();
      this.#byRtx = new Map();
      for (const c of consumers) {
        const p = c.rtpParameters as { codecs: Array<{ clockRate: number }>; encodings: Array<{ ssrc: number; rtx?: { ssrc: number } }> };
        const enc = p.encodings[0]!;
        const s: StreamState = {
          ssrc: enc.ssrc, kind: c.kind, clockRate: p.codecs[0]!.clockRate, rtxSsrc: enc.rtx?.ssrc ?? null,
          baseSeq: -1, maxExt: -1, received: 0, expectedPrior: 0, receivedPrior: 0, jitter: 0, lastTransit: null, lastSrNtpMid: 0, lastSrAt: 0,
        };
        this.#streams.set(s.ssrc, s);
        if (s.rtxSsrc !== null) this.#byRtx.set(s.rtxSsrc, s);
      }
      for (const c of consumers) {
        await ask(this.#socket, 'consumer:resume', { broadcastId: id, consumerId: c.id });
        if (c.kind === 'video') {
          const video = [...this.#streams.values()].find((s) => s.kind === 'video');
          if (video) {
            this.#send(rtcpPli(this.#senderSsrc, video.ssrc));
            this.stats.rtcp.pli += 1;
          }
        }
      }
      this.stats.joins += 1;
    } catch (error) {
      this.stats.joinFailures += 1;
      const code = error instanceof PeerError ? error.code : '';
      if (code === 'BROADCAST_ENDED') this.#ended('ended');
      else if (!FINAL_CODES.has(code) && attempt < 20 && !this.#closed) {
        setTimeout(() => void this.join(attempt + 1), Math.min(1000 * attempt, 5000)).unref();
      }
    } finally {
      this.#joining = false;
      if (this.#joinAgain) {
        this.#joinAgain = false;
        void this.join();
      }
    }
  }

  #ended(reason: string): void {
    if (this.stats.ended !== null) return;
    this.stats.ended = reason;
    this.stats.endedAt = Date.now();
  }

  resetGaps(): void {
    this.stats.maxGapMs = 0;
    this.stats.maxGapAt = null;
    this.#gapFrom = Date.now();
  }

  /** The stats with the gap up to now counted. */
  snapshot(): ViewerStats {
    const now = Date.now();
    const since = Math.max(this.stats.lastRtpAt ?? this.#gapFrom, this.#gapFrom);
    const open = now - since;
    if (open > this.stats.maxGapMs) return { ...this.stats, maxGapMs: open, maxGapAt: since };
    return { ...this.stats, rtcp: { ...this.stats.rtcp }, loss: { ...this.stats.loss } };
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#udp.close();
    this.#socket.close();
  }

  #send(packet: Buffer): void {
    if (this.#port !== null) this.#udp.send(packet, this.#port, '127.0.0.1');
  }

  #onDatagram(msg: Buffer): void {
    if (msg.length < 8) return;
    const pt = msg[1]!;
    if (pt >= 192 && pt <= 223) return this.#onRtcp(msg);
    if (msg.length < 12) return;
    const now = Date.now();
    const ssrc = msg.readUInt32BE(8);
    const seq = msg.readUInt16BE(2);
    const rtxOf = this.#byRtx.get(ssrc);
    if (rtxOf) {
      this.stats.loss.rtxReceived += 1;
      const headerLen = 12 + (msg[0]! & 0x0f) * 4 + (msg[0]! & 0x10 ? 4 + msg.readUInt16BE(12 + (msg[0]! & 0x0f) * 4 + 2) * 4 : 0);
      if (msg.length >= headerLen + 2) {
        const osn = msg.readUInt16BE(headerLen);
        if (this.#missing.delete(`${rtxOf.ssrc}:${osn}`)) this.stats.loss.recovered += 1;
      }
      this.#countRtp(now);
      return;
    }
    const s = this.#streams.get(ssrc);
    if (!s) return;
    // Emulated loss: drop it, as the network would have, and ask for it again.
    if (s.kind === 'video' && this.#opts.lossRate > 0 && Math.random() < this.#opts.lossRate) {
      this.stats.loss.dropped += 1;
      this.#missing.add(`${ssrc}:${seq}`);
      let set = this.#pendingNacks.get(ssrc);
      if (!set) this.#pendingNacks.set(ssrc, (set = new Set()));
      set.add(seq);
      return;
    }
    this.#countRtp(now);
    if (s.kind === 'video') {
      this.stats.video += 1;
      this.stats.firstVideoAt ??= now;
    } else this.stats.audio += 1;
    this.#opts.onRtp?.(this.stats.index, msg);
    // Receiver-report state (RFC 3550 A.1, A.8).
    if (s.baseSeq < 0) {
      s.baseSeq = seq;
      s.maxExt = seq;
    } else {
      let delta = seq - (s.maxExt & 0xffff);
      if (delta < -32768) delta += 65536;
      else if (delta > 32768) delta -= 65536;
      if (delta > 0) s.maxExt += delta;
    }
    s.received += 1;
    const arrival = (now / 1000) * s.clockRate;
    const transit = arrival - msg.readUInt32BE(4);
    if (s.lastTransit !== null) {
      const d = Math.abs(transit - s.lastTransit);
      if (d < s.clockRate * 10) s.jitter += (d - s.jitter) / 16;
    }
    s.lastTransit = transit;
  }

  #countRtp(now: number): void {
    const st = this.stats;
    st.rtp += 1;
    st.firstRtpAt ??= now;
    const since = Math.max(st.lastRtpAt ?? this.#gapFrom, this.#gapFrom);
    if (now - since > st.maxGapMs) {
      st.maxGapMs = now - since;
      st.maxGapAt = since;
    }
    st.lastRtpAt = now;
  }

  #onRtcp(msg: Buffer): void {
    // Walk the compound packet for sender reports.
    let off = 0;
    while (off + 8 <= msg.length) {
      const pt = msg[off + 1]!;
      const len = (msg.readUInt16BE(off + 2) + 1) * 4;
      if (pt === 200 && off + 20 <= msg.length) {
        const s = this.#streams.get(msg.readUInt32BE(off + 4));
        if (s) {
          s.lastSrNtpMid = ((msg.readUInt32BE(off + 8) & 0xffff) << 16) | (msg.readUInt32BE(off + 12) >>> 16);
          s.lastSrAt = Date.now();
          this.stats.rtcp.srReceived += 1;
        }
      }
      off += len;
    }
  }

  #flushNacks(): void {
    for (const [ssrc, seqs] of this.#pendingNacks) {
      if (seqs.size === 0) continue;
      this.#send(rtcpNack(this.#senderSsrc, ssrc, [...seqs]));
      this.stats.rtcp.nackPackets += 1;
      this.stats.rtcp.nackedSeqs += seqs.size;
      seqs.clear();
    }
    // Forget what was never repaired (a browser's NACK list is bounded too).
    if (this.#missing.size > 1000) this.#missing.clear();
  }

  #sendReports(): void {
    if (this.#port === null || this.#streams.size === 0) return;
    const now = Date.now();
    const blocks: ReportBlock[] = [];
    for (const s of this.#streams.values()) {
      if (s.baseSeq < 0) continue;
      const expected = s.maxExt - s.baseSeq + 1;
      const lost = Math.max(0, expected - s.received);
      const expectedInterval = expected - s.expectedPrior;
      const receivedInterval = s.received - s.receivedPrior;
      s.expectedPrior = expected;
      s.receivedPrior = s.received;
      const lostInterval = expectedInterval - receivedInterval;
      const fraction = expectedInterval > 0 && lostInterval > 0 ? Math.min(255, Math.floor((lostInterval << 8) / expectedInterval)) : 0;
      blocks.push({
        ssrc: s.ssrc,
        fraction,
        cumulativeLost: Math.min(lost, 0x7fffff),
        extHighestSeq: s.maxExt >>> 0,
        jitter: Math.round(s.jitter) >>> 0,
        lsr: s.lastSrAt ? s.lastSrNtpMid >>> 0 : 0,
        dlsr: s.lastSrAt ? Math.round(((now - s.lastSrAt) / 1000) * 65536) >>> 0 : 0,
      });
    }
    const video = [...this.#streams.values()].filter((s) => s.kind === 'video').map((s) => s.ssrc);
    this.#send(Buffer.concat([rtcpReceiverReport(this.#senderSsrc, blocks), rtcpRemb(this.#senderSsrc, this.#opts.rembBps, video)]));
    this.stats.rtcp.rr += 1;
    this.stats.rtcp.remb += 1;
  }
}

/** `count` synthetic viewers of one broadcast (see the top of this file). */
export class PlainViewers {
  readonly #viewers: PlainViewer[];

  private constructor(viewers: PlainViewer[]) {
    this.#viewers = viewers;
  }

  /** Connects `count` viewers and joins them (in batches of 10); resolves once every join was tried. */
  static async join(url: string, broadcastId: string, count: number, opts: ViewerOptions = {}): Promise<PlainViewers> {
    const full: ViewerSettings = { lossRate: opts.lossRate ?? 0.01, rembBps: opts.rembBps ?? 2_000_000, onRtp: opts.onRtp };
    const viewers: PlainViewer[] = [];
    const all = new PlainViewers(viewers);
    try {
      for (let i = 0; i < count; i += 10) {
        await Promise.all(
          Array.from({ length: Math.min(10, count - i) }, async (_, k) => {
            const socket = socketTo(url, opts.tokens?.[i + k]);
            const udp = await boundSocket();
            const v = new PlainViewer(i + k, socket, udp, broadcastId, full);
            viewers.push(v);
            await waitConnected(socket);
            await v.join();
            return v;
          }),
        );
      }
      return all;
    } catch (error) {
      all.close();
      throw error;
    }
  }

  get count(): number {
    return this.#viewers.length;
  }

  /** Starts a new window for the longest-gap figure. */
  resetGaps(): void {
    for (const v of this.#viewers) v.resetGaps();
  }

  stats(): ViewerStats[] {
    return this.#viewers.map((v) => v.snapshot());
  }

  close(): void {
    for (const v of this.#viewers) v.close();
  }
}

// --------------------------------------------------------------------- RTCP --

interface ReportBlock {
  ssrc: number;
  fraction: number;
  cumulativeLost: number;
  extHighestSeq: number;
  jitter: number;
  lsr: number;
  dlsr: number;
}

function rtcpHeader(buf: Buffer, countOrFmt: number, pt: number): void {
  buf[0] = 0x80 | (countOrFmt & 0x1f);
  buf[1] = pt;
  buf.writeUInt16BE(buf.length / 4 - 1, 2);
}

/** RR (RFC 3550 6.4.2). */
export function rtcpReceiverReport(senderSsrc: number, blocks: ReportBlock[]): Buffer {
  const buf = Buffer.alloc(8 + 24 * blocks.length);
  rtcpHeader(buf, blocks.length, 201);
  buf.writeUInt32BE(senderSsrc >>> 0, 4);
  blocks.forEach((b, i) => {
    const o = 8 + 24 * i;
    buf.writeUInt32BE(b.ssrc >>> 0, o);
    buf.writeUInt32BE(((b.fraction & 0xff) << 24) | (b.cumulativeLost & 0xffffff), o + 4);
    buf.writeUInt32BE(b.extHighestSeq >>> 0, o + 8);
    buf.writeUInt32BE(b.jitter >>> 0, o + 12);
    buf.writeUInt32BE(b.lsr >>> 0, o + 16);
    buf.writeUInt32BE(b.dlsr >>> 0, o + 20);
  });
  return buf;
}

/** PLI (RFC 4585 6.3.1). */
export function rtcpPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const buf = Buffer.alloc(12);
  rtcpHeader(buf, 1, 206);
  buf.writeUInt32BE(senderSsrc >>> 0, 4);
  buf.writeUInt32BE(mediaSsrc >>> 0, 8);
  return buf;
}

/** Generic NACK (RFC 4585 6.2.1): PID + bitmask of the 16 following. */
export function rtcpNack(senderSsrc: number, mediaSsrc: number, seqs: number[]): Buffer {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const items: Array<[number, number]> = [];
  for (const seq of sorted) {
    const last = items.at(-1);
    const d = last ? (seq - last[0] + 65536) % 65536 : 0;
    if (last && d >= 1 && d <= 16) last[1] |= 1 << (d - 1);
    else items.push([seq, 0]);
  }
  const buf = Buffer.alloc(12 + 4 * items.length);
  rtcpHeader(buf, 1, 205);
  buf.writeUInt32BE(senderSsrc >>> 0, 4);
  buf.writeUInt32BE(mediaSsrc >>> 0, 8);
  items.forEach(([pid, blp], i) => {
    buf.writeUInt16BE(pid, 12 + 4 * i);
    buf.writeUInt16BE(blp, 14 + 4 * i);
  });
  return buf;
}

/** REMB (draft-alvestrand-rmcat-remb): PSFB FMT 15, "REMB", bitrate as 6-bit exponent + 18-bit mantissa. */
export function rtcpRemb(senderSsrc: number, bps: number, ssrcs: number[]): Buffer {
  const buf = Buffer.alloc(20 + 4 * ssrcs.length);
  rtcpHeader(buf, 15, 206);
  buf.writeUInt32BE(senderSsrc >>> 0, 4);
  buf.writeUInt32BE(0, 8);
  buf.write('REMB', 12, 'ascii');
  let exp = 0;
  let mantissa = Math.round(bps);
  while (mantissa > 0x3ffff) {
    mantissa >>>= 1;
    exp += 1;
  }
  buf[16] = ssrcs.length;
  buf[17] = (exp << 2) | ((mantissa >>> 16) & 0x03);
  buf.writeUInt16BE(mantissa & 0xffff, 18);
  ssrcs.forEach((s, i) => buf.writeUInt32BE(s >>> 0, 20 + 4 * i));
  return buf;
}
