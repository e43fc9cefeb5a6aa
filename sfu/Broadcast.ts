import type { types as ms } from 'mediasoup';
import { AppError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { DtlsParameters, MediaKind, RtpCapabilities, RtpParameters, TransportOptions } from '../common/protocol/media.ts';
import type { PipedProducer, PipeEndpoint } from '../common/cluster/pipeProtocol.ts';
import { BroadcastRouter, type BroadcastRouterCloseReason, type BroadcastRouterView } from './BroadcastRouter.ts';
import { EdgeFeed } from './EdgeFeed.ts';
import { OriginPipe } from './OriginPipe.ts';
import type { MediaWorker } from './MediaWorker.ts';
import { RecordingTap, type RecordingTarget } from './RecordingTap.ts';
import { carries, payloadNumbering, type PayloadNumbering } from './payloadNumbering.ts';
import { openRtpIngest, type RtpIngest, type RtpIngestEndpoint } from './rtpIngest.ts';
import { createObserver, TypedEmitter } from './TypedEmitter.ts';
import { Viewer, type ViewerCloseReason } from './Viewer.ts';
import type { WorkerPool } from './WorkerPool.ts';
import { toAppError, toMsDtlsParameters, toMsRtpCapabilities, toMsRtpParameters, toTransportOptions, toWireRtpCapabilities } from './wire.ts';

/** Why a broadcast's media closed: the owner stopped it, or the origin router's worker died. */
export type BroadcastCloseReason = 'stopped' | 'worker-died';

/** Events of {@link Broadcast}. */
export type BroadcastEvents = {
  /** Emitted once. After 'worker-died', the media is gone: create a new Broadcast to continue. */
  close: [reason: BroadcastCloseReason];
  /** The broadcaster produced a track; viewers may consume again. */
  newproducer: [{ kind: MediaKind }];
  /** The broadcaster's send transport and producers were closed (viewers stay). */
  producersclosed: [];
};

/**
 * How a send transport was lost: ICE consent expired (the sender went silent for the
 * transport's consent timeout, 30 s) or ICE closed, DTLS failed or the sender closed it (a
 * close_notify alert), or the transport was closed here (replaced by a new one, the
 * broadcaster's send side closed, the broadcast ended).
 */
export type SendTransportLoss = 'ice-disconnected' | 'dtls-failed' | 'dtls-closed' | 'closed';

/** Where a producer's media comes from: a browser (WebRTC), plain RTP ({@link Broadcast.produceRtp}), or the origin node's pipe. */
export type ProducerSource = 'webrtc' | 'rtp' | 'feed';

/**
 * Events of {@link Broadcast.observer}, the channel for those who watch a broadcast (tests,
 * benchmarks, metrics) rather than drive it, as mediasoup's `observer`. The objects handed out
 * are live: watch them, never change them.
 */
export type BroadcastObserverEvents = {
  /** Emitted once, after everything of the broadcast closed. */
  close: [reason: BroadcastCloseReason];
  /** An edge router opened, with every current producer already piped to it (before any viewer is attached). */
  newrouter: [router: BroadcastRouterView];
  /** An edge router closed (empty, or its worker died). The origin closes only with the broadcast. */
  routerclose: [router: BroadcastRouterView];
  /** A producer was registered and fed to every edge and pipe (just before the broadcast's own 'newproducer'). */
  newproducer: [producer: { id: string; kind: MediaKind; source: ProducerSource }];
  /** A viewer was attached to one of the routers ({@link Broadcast.routers}, by `viewer.routerId`). */
  newviewer: [viewer: Viewer];
  /** A pipe to an edge node opened (this node is the origin). */
  newpipe: [pipe: OriginPipe];
  /** A recording tap opened. */
  newtap: [tap: RecordingTap];
};

/** Options of {@link Broadcast.create}. */
export interface BroadcastOptions {
  id: string;
  pool: WorkerPool;
  /** Viewers per router before the next viewer goes to an edge router. */
  maxViewersPerRouter: number;
  logger: Logger;
}

/**
 * The media of one live broadcast: an origin router where the broadcaster produces, edge
 * routers (preferably on other workers) fed by pipeToRouter once the origin is full, and
 * the viewers attached to them.
 *
 * If the origin's worker dies, the broadcast closes with 'worker-died'. If an edge's worker
 * dies, only that edge's viewers close (with 'worker-died'); the broadcast stays up.
 */
export class Broadcast extends TypedEmitter<BroadcastEvents> {
  readonly id: string;
  /** Events for watchers, not drivers: see {@link BroadcastObserverEvents}. */
  readonly observer: TypedEmitter<BroadcastObserverEvents>;
  readonly #notify: <K extends Extract<keyof BroadcastObserverEvents, string>>(event: K, ...args: BroadcastObserverEvents[K]) => void;
  /** The origin router's RTP capabilities, for the broadcaster's and viewers' devices. */
  readonly rtpCapabilities: RtpCapabilities;
  readonly #pool: WorkerPool;
  readonly #maxViewersPerRouter: number;
  readonly #logger: Logger;
  readonly #origin: BroadcastRouter;
  readonly #edges = new Set<BroadcastRouter>();
  /** The codecs of each payload numbering's edges (sfu/payloadNumbering.ts), by key. */
  readonly #numberings = new Map<string, PayloadNumbering>();
  readonly #viewers = new Map<string, { viewer: Viewer; route: BroadcastRouter }>();
  /** The broadcaster's producers on the origin router, by id. */
  readonly #producers = new Map<string, ms.Producer>();
  readonly #producing = new Set<MediaKind>();
  /** RTP from the broadcaster has arrived at some point (see `mediaReceived`). */
  #mediaReceived = false;
  /** Transports whose connect() was called: a second call is refused before it reaches the worker. */
  readonly #connected = new WeakSet<ms.WebRtcTransport>();
  #sendTransport: ms.WebRtcTransport | undefined;
  /** Plain RTP ingests (produceRtp): the broadcaster's sending side like the send transport. */
  readonly #rtpIngests = new Set<ms.PlainTransport>();
  readonly #taps = new Set<RecordingTap>();
  /** Pipes to edge nodes (this node is the broadcast's origin). */
  readonly #pipes = new Set<OriginPipe>();
  /** The pipe from the origin node (this node is an edge of the broadcast). */
  #feed: EdgeFeed | undefined;
  /** Serialises edge creation so that concurrent joins do not each open a new edge. */
  #edgeQueue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(opts: BroadcastOptions, origin: BroadcastRouter, logger: Logger) {
    super((event, error) => logger.error({ err: error, event }, 'Broadcast listener threw'));
    this.id = opts.id;
    this.#pool = opts.pool;
    this.#maxViewersPerRouter = opts.maxViewersPerRouter;
    this.#logger = logger;
    this.#origin = origin;
    const { observer, notify } = createObserver<BroadcastObserverEvents>((event, error) => logger.error({ err: error, event }, 'Broadcast observer threw'));
    this.observer = observer;
    this.#notify = notify;
    this.rtpCapabilities = toWireRtpCapabilities(origin.router.rtpCapabilities);
    origin.on('close', (reason) => {
      if (reason === 'worker-died') {
        this.#logger.error({ workerIndex: origin.workerIndex }, 'origin media worker died; closing the broadcast');
        this.close('worker-died');
      }
    });
  }

  /** Creates the broadcast's origin router on the least-loaded worker. */
  static async create(opts: BroadcastOptions): Promise<Broadcast> {
    if (!Number.isInteger(opts.maxViewersPerRouter) || opts.maxViewersPerRouter < 1) {
      throw new AppError('BAD_REQUEST', 'maxViewersPerRouter must be a positive integer');
    }
    const logger = opts.logger.child({ broadcastId: opts.id });
    const worker = opts.pool.pick();
    const router = await worker.createRouter();
    const origin = new BroadcastRouter('origin', worker, router, (event, error) =>
      logger.error({ err: error, event }, 'router listener threw'),
    );
    logger.info({ workerIndex: worker.index, routerId: router.id }, 'broadcast media created');
    return new Broadcast(opts, origin, logger);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get viewerCount(): number {
    return this.#viewers.size;
  }

  /** The broadcaster's current producers. */
  get producers(): ReadonlyArray<{ id: string; kind: MediaKind }> {
    return [...this.#producers.values()].map((p) => ({ id: p.id, kind: p.kind }));
  }

  /**
   * Whether RTP from the broadcaster has ever reached this broadcast: a producer was scored
   * (mediasoup scores only streams that receive RTP) or counts received bytes. A producer
   * alone proves nothing: a client may create one and never send a packet.
   */
  async mediaReceived(): Promise<boolean> {
    for (const p of this.#producers.values()) {
      if (this.#mediaReceived) break;
      const stats = await p.getStats().catch(() => []);
      if (stats.some((st) => st.byteCount > 0)) this.#mediaReceived = true;
    }
    return this.#mediaReceived;
  }

  /** Number of edge routers currently open. */
  get edgeCount(): number {
    return this.#edges.size;
  }

  /** The broadcast's routers, the origin first, then the open edges (read-only views). */
  get routers(): readonly BroadcastRouterView[] {
    return [this.#origin, ...this.#edges];
  }

  /** Index of the worker hosting the origin router. */
  get originWorkerIndex(): number {
    return this.#origin.workerIndex;
  }

  // ------------------------------------------------------------- broadcaster --

  /**
   * Creates the broadcaster's send transport on the origin worker's WebRtcServer. A previous
   * send transport (e.g. from before a reconnect) and any plain RTP ingest are closed with
   * their producers: the broadcaster's sending side starts over.
   */
  async createSendTransport(): Promise<TransportOptions> {
    this.#assertOpen();
    this.#closeSendTransport();
    let transport: ms.WebRtcTransport;
    try {
      transport = await this.#origin.router.createWebRtcTransport({
        webRtcServer: this.#origin.webRtcServer,
        enableUdp: true,
        enableTcp: true,
        preferUdp: true,
        initialAvailableOutgoingBitrate: 1_000_000,
        appData: { broadcastId: this.id, role: 'send' },
      });
    } catch (error) {
      throw toAppError(error, 'create send transport');
    }
    if (this.#closed) {
      transport.close();
      throw new AppError('WRONG_STATE', 'the broadcast has ended');
    }
    // Two overlapping calls: the one that finishes last wins.
    this.#closeSendTransport();
    this.#sendTransport = transport;
    return toTransportOptions(transport);
  }

  /** Sets the broadcaster's DTLS parameters. AppError('NOT_FOUND') unless `transportId` is the current send transport. */
  async connectSendTransport(transportId: string, dtlsParameters: DtlsParameters): Promise<void> {
    const transport = this.#sendTransportById(transportId);
    // The worker refuses a second connect (and logs it as an error): it is the client's mistake.
    if (this.#connected.has(transport)) throw new AppError('WRONG_STATE', 'connect send transport: already connected');
    this.#connected.add(transport);
    try {
      await transport.connect({ dtlsParameters: toMsDtlsParameters(dtlsParameters) });
    } catch (error) {
      this.#connected.delete(transport);
      throw toAppError(error, 'connect send transport');
    }
  }

  /**
   * New local ICE credentials for the broadcaster's send transport: an ICE restart (WHIP's
   * PATCH, RFC 9725 §4.3.2; ICE-lite, so the other side's new credentials are not needed).
   * @throws AppError('NOT_FOUND') unless `transportId` is the current send transport, ('MEDIA_ERROR') worker failures.
   */
  async restartSendIce(transportId: string): Promise<{ usernameFragment: string; password: string }> {
    const transport = this.#sendTransportById(transportId);
    try {
      const ice = await transport.restartIce();
      return { usernameFragment: ice.usernameFragment, password: ice.password };
    } catch (error) {
      throw toAppError(error, 'restart ICE');
    }
  }

  /**
   * Resolves once the send transport `transportId` is lost (see {@link SendTransportLoss}); at
   * once with 'closed' when it is not the current send transport. Never rejects. For senders
   * without a signalling connection (WHIP), whose presence is the transport itself.
   */
  sendTransportLost(transportId: string): Promise<SendTransportLoss> {
    const transport = this.#sendTransport;
    if (this.#closed || !transport || transport.id !== transportId || transport.closed) return Promise.resolve('closed');
    return new Promise<SendTransportLoss>((resolve) => {
      const onIce = (state: ms.IceState) => {
        if (state === 'disconnected' || state === 'closed') done('ice-disconnected');
      };
      const onDtls = (state: ms.DtlsState) => {
        if (state === 'failed') done('dtls-failed');
        else if (state === 'closed') done('dtls-closed');
      };
      const onClose = () => done('closed');
      const done = (loss: SendTransportLoss) => {
        transport.off('icestatechange', onIce);
        transport.off('dtlsstatechange', onDtls);
        transport.observer.off('close', onClose);
        resolve(loss);
      };
      transport.on('icestatechange', onIce);
      transport.on('dtlsstatechange', onDtls);
      transport.observer.once('close', onClose);
    });
  }

  /**
   * Creates the broadcaster's audio or video producer (at most one of each) and pipes it to
   * every edge router before announcing it with 'newproducer'.
   * @throws AppError('NOT_FOUND') unknown transport, ('WRONG_STATE') a second producer of a
   *   kind, ('VALIDATION_FAILED') parameters mediasoup rejects, ('MEDIA_ERROR') worker failures.
   */
  async produce(p: { transportId: string; kind: MediaKind; rtpParameters: RtpParameters }): Promise<{ producerId: string }> {
    const transport = this.#sendTransportById(p.transportId);
    this.#checkProduce(p.kind, p.rtpParameters);
    this.#producing.add(p.kind);
    let producer: ms.Producer;
    try {
      producer = await transport.produce({ kind: p.kind, rtpParameters: toMsRtpParameters(p.rtpParameters) });
    } catch (error) {
      throw toAppError(error, 'produce');
    } finally {
      this.#producing.delete(p.kind);
    }
    if (this.#closed || transport.closed) {
      producer.close();
      throw new AppError('WRONG_STATE', 'the send transport closed while producing');
    }
    await this.#adopt(producer, 'webrtc');
    return { producerId: producer.id };
  }

  /**
   * Takes one of the broadcaster's tracks as plain RTP instead of WebRTC: a comedia
   * PlainTransport on the origin router on the SFU's listen IP (RTP and RTCP on ports of their
   * own, as ffmpeg and GStreamer send; no ICE, no DTLS, no SRTP), whose producer is served
   * exactly like {@link produce}'s: at most one per kind, piped to every edge and pipe (now and
   * later), announced with 'newproducer', recorded, closed with the broadcaster's send side
   * (`closeSendTransport`) and with the broadcast. For senders on a trusted network (tests,
   * benchmarks, an encoder next to the SFU): whoever sends first to the port is the broadcaster.
   * @param recvBufferSize the sockets' receive buffer in bytes (default: the OS's, as the WebRtcServer's).
   * @throws AppError('WRONG_STATE') a second producer of a kind or an ended broadcast,
   *   ('VALIDATION_FAILED') parameters mediasoup rejects, ('MEDIA_ERROR') worker failures.
   */
  async produceRtp(p: { kind: MediaKind; rtpParameters: RtpParameters; recvBufferSize?: number }): Promise<{ producerId: string; rtp: RtpIngestEndpoint }> {
    this.#assertOpen();
    this.#checkProduce(p.kind, p.rtpParameters);
    this.#producing.add(p.kind);
    let opened: RtpIngest;
    try {
      opened = await openRtpIngest({
        router: this.#origin.router,
        listenIp: this.#pool.listenIp,
        kind: p.kind,
        rtpParameters: p.rtpParameters,
        recvBufferSize: p.recvBufferSize,
        appData: { broadcastId: this.id, role: 'rtp-ingest' },
      });
    } finally {
      this.#producing.delete(p.kind);
    }
    const { transport, producer, rtp } = opened;
    if (this.#closed) {
      transport.close();
      throw new AppError('WRONG_STATE', 'the broadcast has ended');
    }
    this.#rtpIngests.add(transport);
    transport.observer.once('close', () => this.#rtpIngests.delete(transport));
    try {
      await this.#adopt(producer, 'rtp');
    } catch (error) {
      transport.close();
      throw error;
    }
    return { producerId: producer.id, rtp };
  }

  /** One producer per kind, and codecs of that kind. */
  #checkProduce(kind: MediaKind, rtpParameters: RtpParameters): void {
    if (this.#producing.has(kind) || [...this.#producers.values()].some((x) => x.kind === kind)) {
      throw new AppError('WRONG_STATE', `there is already a ${kind} producer`);
    }
    // mediasoup maps codecs by mime type only and would accept Opus "video".
    const wrongKind = rtpParameters.codecs.find((c) => !c.mimeType.toLowerCase().startsWith(`${kind}/`));
    if (wrongKind) throw new AppError('VALIDATION_FAILED', `produce: codec ${wrongKind.mimeType} is not ${kind}`);
  }

  /** Registers a producer of the origin router, feeds it to every local edge and pipe, then announces it. */
  async #adopt(producer: ms.Producer, source: ProducerSource): Promise<void> {
    this.#producers.set(producer.id, producer);
    this.#origin.addProducer(producer.id, producer);
    producer.observer.once('close', () => this.#producers.delete(producer.id));
    producer.on('score', (score) => {
      if (score.length > 0) this.#mediaReceived = true;
    });
    this.#logger.info({ producerId: producer.id, kind: producer.kind, type: producer.type }, 'producer created');
    // Snapshot of the edges in the same tick as the producer was added: an edge created
    // later pipes every producer it finds (see #createEdge), so each pair is piped once.
    await Promise.all([
      ...[...this.#edges].filter((edge) => this.#feeds(edge, producer)).map((edge) => this.#pipeOrDrop(producer, edge)),
      ...[...this.#pipes].map((pipe) => this.#feedPipe(pipe, producer)),
    ]);
    if (producer.closed) throw new AppError('WRONG_STATE', 'the producer closed while being set up');
    this.#notify('newproducer', { id: producer.id, kind: producer.kind, source });
    this.emit('newproducer', { kind: producer.kind });
  }

  /**
   * The broadcaster is gone (its grace period runs): closes the send transport, the plain RTP ingests and the producers
   * and emits 'producersclosed' if there were any. Viewers stay joined.
   */
  closeSendTransport(): void {
    if (this.#closed) return;
    this.#closeSendTransport();
  }

  // ------------------------------------------------------ pipes across nodes --

  /**
   * This node is the broadcast's origin: opens a pipe to an edge node's `edge` end, with
   * every current producer consumed into it (later ones follow, announced by the pipe).
   */
  async openPipe(edge: PipeEndpoint, pipeId: string): Promise<{ pipe: OriginPipe; producers: PipedProducer[] }> {
    this.#assertOpen();
    const opened = await OriginPipe.open(
      { router: this.#origin.router, ...this.#pipeListen(), edge, producers: [...this.#producers.values()], logger: this.#logger },
      pipeId,
    );
    if (this.#closed) {
      opened.pipe.close();
      throw new AppError('WRONG_STATE', 'the broadcast has ended');
    }
    this.#pipes.add(opened.pipe);
    opened.pipe.on('close', () => this.#pipes.delete(opened.pipe));
    this.#notify('newpipe', opened.pipe);
    return opened;
  }

  /** Number of pipes to edge nodes. */
  get pipeCount(): number {
    return this.#pipes.size;
  }

  /**
   * This node is an edge of the broadcast: its origin router is fed from the origin node
   * instead of by a broadcaster. Returns the feed (connect it to the origin's end); one per
   * broadcast.
   */
  async openFeed(): Promise<EdgeFeed> {
    this.#assertOpen();
    if (this.#feed) throw new AppError('WRONG_STATE', 'the broadcast is fed already');
    const feed = await EdgeFeed.create({ router: this.#origin.router, ...this.#pipeListen(), logger: this.#logger });
    if (this.#closed) {
      feed.close();
      throw new AppError('WRONG_STATE', 'the broadcast has ended');
    }
    this.#feed = feed;
    return feed;
  }

  /** Re-creates an origin producer from the feed and serves it like a broadcaster's (see produce()). */
  async addFedProducer(p: PipedProducer): Promise<void> {
    this.#assertOpen();
    const feed = this.#feed;
    if (!feed) throw new AppError('WRONG_STATE', 'the broadcast has no feed');
    if (this.#producers.has(p.id)) return;
    if ([...this.#producers.values()].some((x) => x.kind === p.kind)) {
      throw new AppError('WRONG_STATE', `there is already a ${p.kind} producer`);
    }
    const producer = await feed.produce(p);
    if (this.#closed) {
      producer.close();
      throw new AppError('WRONG_STATE', 'the broadcast has ended');
    }
    await this.#adopt(producer, 'feed');
  }

  /** The origin's producer `id` ended: its copy here closes (and its consumers with it). */
  closeFedProducer(id: string): void {
    this.#producers.get(id)?.close();
    this.#producers.delete(id);
  }

  // --------------------------------------------------------------- recording --

  /**
   * Opens a recording tap of the broadcaster's current tracks towards `target` (see
   * {@link RecordingTap}). It closes with 'producer-closed' when a track ends, and with the
   * broadcast.
   * @throws AppError('WRONG_STATE') if the broadcast has ended or has no tracks.
   */
  async openRecordingTap(target: RecordingTarget, keyframeIntervalMs: number): Promise<RecordingTap> {
    this.#assertOpen();
    const producers = [...this.#producers.values()];
    if (producers.length === 0) throw new AppError('WRONG_STATE', 'the broadcaster sends no media yet');
    const tap = await RecordingTap.open({
      router: this.#origin.router,
      producers,
      listenIp: this.#pool.listenIp,
      target,
      keyframeIntervalMs,
      logger: this.#logger,
    });
    if (this.#closed) {
      tap.close();
      throw new AppError('WRONG_STATE', 'the broadcast has ended');
    }
    this.#taps.add(tap);
    tap.on('close', () => this.#taps.delete(tap));
    this.#notify('newtap', tap);
    return tap;
  }

  // ----------------------------------------------------------------- viewers --

  /**
   * Attaches a viewer: to the origin router while it has room, else to an edge router on
   * another worker (on the same worker when there is no other). Joining again with the id
   * of an open viewer returns that viewer.
   * A viewer whose device numbers payload types itself (`numberedBy`: its capabilities, a
   * WHEP player's offer) is attached to an edge of that numbering instead
   * (sfu/payloadNumbering.ts), shared with the viewers of the same numbering.
   * @throws AppError('WRONG_STATE') if the broadcast has ended, ('UNAVAILABLE') with
   *   `numberedBy` when nothing is produced yet, ('VALIDATION_FAILED') when the device
   *   decodes none of it.
   */
  async addViewer(viewerId: string, numberedBy?: RtpCapabilities): Promise<Viewer> {
    this.#assertOpen();
    const existing = this.#viewers.get(viewerId);
    if (existing) return existing.viewer;
    const numbering = numberedBy ? this.#numberingOf(numberedBy) : undefined;
    let route = this.#routeWithRoom(numbering);
    while (!route) {
      const next = this.#edgeQueue.then(() => this.#routeWithRoom(numbering) ?? this.#createEdge(numbering));
      this.#edgeQueue = next.catch(() => undefined);
      const created = await next;
      this.#assertOpen();
      const raced = this.#viewers.get(viewerId);
      if (raced) return raced.viewer;
      // Other joins may have filled (or a worker death closed) it while we were waiting.
      route = !created.closed && created.viewerCount < this.#maxViewersPerRouter ? created : this.#routeWithRoom(numbering);
    }
    // From here on, no await: the seat taken is counted before anyone else can look.
    const target = route;
    target.viewerCount += 1;
    const viewer: Viewer = new Viewer({
      id: viewerId,
      route: target,
      logger: this.#logger.child({ viewerId }),
      onClose: () => this.#onViewerClosed(viewerId, viewer, target),
    });
    this.#viewers.set(viewerId, { viewer, route: target });
    this.#logger.debug({ viewerId, role: target.role, workerIndex: target.workerIndex }, 'viewer added');
    this.#notify('newviewer', viewer);
    return viewer;
  }

  getViewer(viewerId: string): Viewer | undefined {
    return this.#viewers.get(viewerId)?.viewer;
  }

  /** Closes and forgets a viewer ('left'). Unknown ids are ignored. */
  removeViewer(viewerId: string): void {
    this.#viewers.get(viewerId)?.viewer.close('left');
  }

  /** Closes routers, transports, producers and viewers; emits 'close' once. Idempotent. */
  close(reason: BroadcastCloseReason = 'stopped'): void {
    if (this.#closed) return;
    this.#closed = true;
    const viewerReason: ViewerCloseReason = reason === 'worker-died' ? 'worker-died' : 'broadcast-closed';
    for (const { viewer } of [...this.#viewers.values()]) viewer.close(viewerReason);
    this.#viewers.clear();
    for (const tap of [...this.#taps]) tap.close();
    for (const pipe of [...this.#pipes]) pipe.close();
    this.#pipes.clear();
    this.#feed?.close();
    this.#sendTransport?.close();
    this.#sendTransport = undefined;
    for (const ingest of [...this.#rtpIngests]) ingest.close();
    this.#rtpIngests.clear();
    for (const edge of [...this.#edges]) edge.close();
    this.#edges.clear();
    this.#origin.close();
    this.#producers.clear();
    this.#logger.info({ reason }, 'broadcast media closed');
    this.emit('close', reason);
    this.removeAllListeners();
    this.#notify('close', reason);
    this.observer.removeAllListeners();
  }

  // ----------------------------------------------------------------- private --

  #routeWithRoom(numbering?: PayloadNumbering): BroadcastRouter | undefined {
    if (!numbering && this.#origin.viewerCount < this.#maxViewersPerRouter) return this.#origin;
    for (const edge of this.#edges) if (edge.numbering === numbering?.key && edge.viewerCount < this.#maxViewersPerRouter) return edge;
    return undefined;
  }

  /** The numbering of a device's capabilities for the codecs produced now (sfu/payloadNumbering.ts). */
  #numberingOf(device: RtpCapabilities): PayloadNumbering {
    const inUse = [...this.#producers.values()].flatMap((p) => p.rtpParameters.codecs.filter((c) => !/\/rtx$/i.test(c.mimeType)).slice(0, 1));
    if (inUse.length === 0) throw new AppError('UNAVAILABLE', 'this broadcast sends no media yet; try again in a few seconds');
    const numbering = payloadNumbering(toMsRtpCapabilities(device), inUse);
    if (!numbering) throw new AppError('VALIDATION_FAILED', `this device cannot decode any of the broadcast’s media (${inUse.map((c) => c.mimeType).join(', ')})`);
    this.#numberings.set(numbering.key, numbering);
    return numbering;
  }

  /** Whether `producer` goes to `edge`: every producer to a plain edge, those of its codecs to a numbering's. */
  #feeds(edge: BroadcastRouter, producer: ms.Producer): boolean {
    if (edge.numbering === undefined) return true;
    const numbering = this.#numberings.get(edge.numbering);
    return numbering !== undefined && carries(numbering.codecs, producer.rtpParameters.codecs[0]);
  }

  /**
   * Opens an edge router (of a payload numbering: with its codecs), preferably on a worker
   * the broadcast does not use yet, and pipes every producer it can take to it.
   */
  async #createEdge(numbering?: PayloadNumbering): Promise<BroadcastRouter> {
    this.#assertOpen();
    const used = new Set([this.#origin.workerIndex, ...[...this.#edges].map((e) => e.workerIndex)]);
    let worker: MediaWorker;
    try {
      worker = this.#pool.pick(used);
    } catch {
      // One worker only (or all in use): another router on a used worker still spreads the
      // per-router work, and pipeToRouter works within a worker too.
      worker = this.#pool.pick();
    }
    const router = await worker.createRouter(numbering?.codecs);
    if (this.#closed) {
      router.close();
      throw new AppError('WRONG_STATE', 'the broadcast has ended');
    }
    const edge = new BroadcastRouter(
      'edge',
      worker,
      router,
      (event, error) => this.#logger.error({ err: error, event }, 'router listener threw'),
      numbering?.key,
    );
    edge.on('close', (reason) => {
      this.#onEdgeClosed(edge, reason);
      this.#notify('routerclose', edge);
    });
    // Added before the producers are snapshotted, in the same tick (see produce()).
    this.#edges.add(edge);
    this.#logger.info({ workerIndex: worker.index, routerId: router.id, edges: this.#edges.size }, 'edge router opened');
    try {
      await Promise.all([...this.#producers.values()].filter((p) => this.#feeds(edge, p)).map((p) => this.#pipe(p, edge)));
    } catch (error) {
      edge.close();
      throw toAppError(error, 'open edge router');
    }
    if (!edge.closed) this.#notify('newrouter', edge);
    return edge;
  }

  /** Pipes an origin producer to an edge router (once per pair). */
  async #pipe(producer: ms.Producer, edge: BroadcastRouter): Promise<void> {
    if (!edge.claimPipe(producer.id)) return;
    try {
      const { pipeProducer } = await this.#origin.router.pipeToRouter({
        producerId: producer.id,
        router: edge.router,
        // Producer ids are unique per worker, and a worker may host the origin and edges of
        // one broadcast (one worker, or more edges than workers): never reuse the id.
        // Edges key their producers by the origin id instead.
        keepId: false,
      });
      if (!pipeProducer) throw new AppError('MEDIA_ERROR', 'pipeToRouter returned no producer');
      if (edge.closed) return;
      edge.addProducer(producer.id, pipeProducer);
    } finally {
      edge.releasePipe(producer.id);
    }
  }

  /** Pipes, and if that fails, drops the edge: its viewers lost their media path. */
  async #pipeOrDrop(producer: ms.Producer, edge: BroadcastRouter): Promise<void> {
    try {
      await this.#pipe(producer, edge);
    } catch (error) {
      if (producer.closed || this.#closed) return;
      this.#logger.error({ err: error, workerIndex: edge.workerIndex }, 'could not pipe producer to edge; dropping the edge');
      this.#dropEdge(edge, 'worker-died');
    }
  }

  /** Feeds a new producer into a pipe to an edge node; a failing pipe is closed (the edge rebuilds it). */
  async #feedPipe(pipe: OriginPipe, producer: ms.Producer): Promise<void> {
    try {
      await pipe.addProducer(producer);
    } catch (error) {
      if (producer.closed || this.#closed) return;
      this.#logger.error({ err: error, pipeId: pipe.id }, 'could not feed a producer into a pipe; closing the pipe');
      pipe.close();
    }
  }

  #pipeListen(): { listenIp: string; announcedAddress: string } {
    return { listenIp: this.#pool.listenIp, announcedAddress: this.#pool.announcedAddress };
  }

  #onEdgeClosed(edge: BroadcastRouter, reason: BroadcastRouterCloseReason): void {
    if (this.#closed) return;
    if (reason === 'worker-died') {
      this.#logger.error({ workerIndex: edge.workerIndex, viewers: edge.viewerCount }, 'edge media worker died');
    }
    this.#dropEdge(edge, 'worker-died');
  }

  /** Forgets an edge, closes its viewers with `viewerReason`, then the edge itself. */
  #dropEdge(edge: BroadcastRouter, viewerReason: ViewerCloseReason): void {
    if (!this.#edges.delete(edge)) return;
    for (const { viewer, route } of [...this.#viewers.values()]) if (route === edge) viewer.close(viewerReason);
    edge.close();
  }

  #onViewerClosed(viewerId: string, viewer: Viewer, route: BroadcastRouter): void {
    if (this.#viewers.get(viewerId)?.viewer === viewer) this.#viewers.delete(viewerId);
    route.viewerCount -= 1;
    // An empty edge costs a router plus a pipe consumer per producer on the origin: close it.
    if (!this.#closed && route.role === 'edge' && route.viewerCount === 0 && this.#edges.delete(route)) {
      route.close();
      this.#logger.info({ workerIndex: route.workerIndex, edges: this.#edges.size }, 'empty edge router closed');
    }
  }

  #closeSendTransport(): void {
    const transport = this.#sendTransport;
    if (!transport && this.#rtpIngests.size === 0) return;
    this.#sendTransport = undefined;
    const hadProducers = this.#producers.size > 0;
    // Closing the transports closes their producers; their pipe producers and every viewer's
    // consumers of them follow (mediasoup cascades the close).
    transport?.close();
    for (const ingest of [...this.#rtpIngests]) ingest.close();
    this.#rtpIngests.clear();
    this.#producers.clear();
    if (hadProducers) {
      this.#logger.info('broadcaster send transport and producers closed');
      this.emit('producersclosed');
    }
  }

  #sendTransportById(transportId: string): ms.WebRtcTransport {
    this.#assertOpen();
    const transport = this.#sendTransport;
    if (!transport || transport.id !== transportId) throw new AppError('NOT_FOUND', 'unknown transport');
    return transport;
  }

  #assertOpen(): void {
    if (this.#closed) throw new AppError('WRONG_STATE', 'the broadcast has ended');
  }
}
