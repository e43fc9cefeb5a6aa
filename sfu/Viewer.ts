import { parseScalabilityMode, type types as ms } from 'mediasoup';
import { AppError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { ConsumerOptions, DtlsParameters, MediaKind, RtpCapabilities, TransportOptions } from '../common/protocol/media.ts';
import type { ViewerRoute } from './BroadcastRouter.ts';
import { governLayers } from './LayerGovernor.ts';
import { TypedEmitter } from './TypedEmitter.ts';
import { viewerRtpCapabilities } from './viewerCapabilities.ts';
import { toAppError, toConsumerOptions, toMsDtlsParameters, toMsRtpCapabilities, toTransportOptions } from './wire.ts';

/** Why a viewer's media session ended. 'worker-died': its media path was lost; rejoining works. */
export type ViewerCloseReason = 'left' | 'worker-died' | 'broadcast-closed';

/** Events of {@link Viewer}. */
export type ViewerEvents = {
  close: [reason: ViewerCloseReason];
  /** The receive transport's connection: DTLS connected, ICE lost (consent expired), or DTLS failed or closed. */
  transport: [state: ViewerTransportState];
  /** One of the viewer's consumers closed (its producer is gone: the broadcaster left or replaced a track). */
  consumerclose: [consumerId: string];
};

/** What a viewer's transport reports (`transport` event). */
export type ViewerTransportState = 'connected' | 'disconnected' | 'reconnected' | 'failed' | 'closed';

/**
 * Media sections a client negotiated itself (WHEP, signaling/ingest/whep/): each producer goes into
 * the first free section of its kind, its consumer carrying that section's MID; producers
 * with no section left are not consumed.
 */
export interface ConsumerSlot {
  kind: MediaKind;
  mid: string;
}

/** What a Broadcast hands a Viewer: its router, a logger and a callback for when it closes. */
export interface ViewerOptions {
  id: string;
  route: ViewerRoute;
  logger: Logger;
  /** Called once when the viewer closes, before its 'close' event. */
  onClose: (reason: ViewerCloseReason) => void;
}

interface ConsumerEntry {
  consumer: ms.Consumer;
  /** The broadcast's (origin) producer id, which is what the client knows. */
  producerId: string;
}

/**
 * One viewer of a broadcast: a receive WebRtcTransport on one of the broadcast's routers and
 * one consumer per producer. Created by {@link Broadcast.addViewer}.
 */
export class Viewer extends TypedEmitter<ViewerEvents> {
  readonly id: string;
  readonly #route: ViewerRoute;
  readonly #logger: Logger;
  readonly #onClose: (reason: ViewerCloseReason) => void;
  #transport: ms.WebRtcTransport | undefined;
  /** By consumer id. */
  readonly #consumers = new Map<string, ConsumerEntry>();
  /** Origin producer ids with a consume in flight, so that two calls cannot both consume one. */
  readonly #consuming = new Set<string>();
  /** Transports whose connect() was called: a second call is refused before it reaches the worker. */
  readonly #connected = new WeakSet<ms.WebRtcTransport>();
  #closed = false;

  constructor(opts: ViewerOptions) {
    super((event, error) => opts.logger.error({ err: error, event }, 'Viewer listener threw'));
    this.id = opts.id;
    this.#route = opts.route;
    this.#logger = opts.logger;
    this.#onClose = opts.onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Index of the pool worker hosting this viewer's router. */
  get routerWorkerIndex(): number {
    return this.#route.workerIndex;
  }

  /** OS pid of the worker hosting this viewer's router. */
  get routerWorkerPid(): number {
    return this.#route.workerPid;
  }

  /** Id of the mediasoup router this viewer consumes from. */
  get routerId(): string {
    return this.#route.router.id;
  }

  /** Open consumers of this viewer. */
  get consumerCount(): number {
    return this.#consumers.size;
  }

  /**
   * Creates the viewer's receive transport on its router's WebRtcServer. A second call
   * replaces the first transport (and closes its consumers), e.g. after an ICE restart failed.
   */
  async createTransport(): Promise<TransportOptions> {
    this.#assertOpen();
    this.#closeTransport();
    let transport: ms.WebRtcTransport;
    try {
      transport = await this.#route.router.createWebRtcTransport({
        webRtcServer: this.#route.webRtcServer,
        enableUdp: true,
        enableTcp: true,
        preferUdp: true,
        initialAvailableOutgoingBitrate: 1_000_000,
        appData: { viewerId: this.id },
      });
    } catch (error) {
      throw toAppError(error, 'create transport');
    }
    if (this.#closed) {
      transport.close();
      throw new AppError('WRONG_STATE', 'viewer left');
    }
    // Two overlapping calls: the one that finishes last wins.
    this.#closeTransport();
    this.#transport = transport;
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') this.#logger.warn({ transportId: transport.id, state }, 'viewer DTLS state');
      if (state === 'connected' || state === 'failed' || state === 'closed') this.emit('transport', state);
    });
    transport.on('icestatechange', (state) => {
      if (state === 'disconnected') this.emit('transport', 'disconnected');
      else if (state === 'completed' || state === 'connected') this.emit('transport', 'reconnected');
    });
    return toTransportOptions(transport);
  }

  /** Completes the DTLS handshake parameters of the viewer's transport. */
  async connectTransport(transportId: string, dtlsParameters: DtlsParameters): Promise<void> {
    const transport = this.#transportById(transportId);
    // The worker refuses a second connect (and logs it as an error): it is the client's mistake.
    if (this.#connected.has(transport)) throw new AppError('WRONG_STATE', 'connect transport: already connected');
    this.#connected.add(transport);
    try {
      await transport.connect({ dtlsParameters: toMsDtlsParameters(dtlsParameters) });
    } catch (error) {
      this.#connected.delete(transport);
      throw toAppError(error, 'connect transport');
    }
  }

  /**
   * Creates a paused consumer for every producer this viewer does not consume yet and its
   * device can decode; producers it cannot decode are skipped. With `slots`, only producers
   * that find a free slot of their kind, in the slot's MID.
   * @returns [] when there is nothing new to consume (e.g. the broadcaster has not produced yet).
   * @throws AppError('VALIDATION_FAILED') if there were producers but none could be consumed with `rtpCapabilities`.
   */
  async consume(transportId: string, rtpCapabilities: RtpCapabilities, slots?: readonly ConsumerSlot[]): Promise<ConsumerOptions[]> {
    const transport = this.#transportById(transportId);
    const caps = viewerRtpCapabilities(toMsRtpCapabilities(rtpCapabilities));
    const consumed = new Set([...this.#consumers.values()].map((c) => c.producerId));
    const todo: Array<[string, ms.Producer]> = [];
    const refused: string[] = [];
    const free = slots ? [...slots] : undefined;
    const mids = new Map<string, string>();
    for (const [producerId, producer] of this.#route.producers()) {
      if (consumed.has(producerId) || this.#consuming.has(producerId)) continue;
      const slot = free?.find((s) => s.kind === producer.kind);
      if (free && !slot) continue;
      let ok = false;
      try {
        ok = this.#route.router.canConsume({ producerId: producer.id, rtpCapabilities: caps });
      } catch (error) {
        throw toAppError(error, 'rtpCapabilities');
      }
      if (!ok) {
        refused.push(producer.rtpParameters.codecs[0]?.mimeType ?? producer.kind);
        continue;
      }
      todo.push([producerId, producer]);
      if (free && slot) {
        free.splice(free.indexOf(slot), 1);
        mids.set(producerId, slot.mid);
      }
    }
    if (todo.length === 0 && refused.length > 0) {
      // mediasoup does not transcode: a broadcast sent in H.264 needs a viewer that decodes it
      // (every major browser does; docs/sfu.md, "Codecs").
      throw new AppError('VALIDATION_FAILED', `this device cannot decode any of the broadcast’s media (${refused.join(', ')})`);
    }
    for (const [producerId] of todo) this.#consuming.add(producerId);
    const out: ConsumerOptions[] = [];
    try {
      for (const [producerId, producer] of todo) {
        const consumer = await this.#createConsumer(transport, producer, caps, mids.get(producerId));
        this.#register(consumer, producerId);
        out.push(toConsumerOptions(consumer, producerId));
      }
    } catch (error) {
      // All or nothing: the client gets either every consumer of this call or an error.
      for (const c of out) this.#consumers.get(c.id)?.consumer.close();
      throw toAppError(error, 'consume');
    } finally {
      for (const [producerId] of todo) this.#consuming.delete(producerId);
    }
    return out;
  }

  /** Resumes a consumer and, for video, asks for a key frame so playback starts at once. */
  async resumeConsumer(consumerId: string): Promise<void> {
    this.#assertOpen();
    const entry = this.#consumers.get(consumerId);
    if (!entry) throw new AppError('NOT_FOUND', 'unknown consumer');
    const { consumer } = entry;
    try {
      await consumer.resume();
      if (consumer.kind === 'video') await consumer.requestKeyFrame();
    } catch (error) {
      if (consumer.closed) throw new AppError('NOT_FOUND', 'the consumer has closed (its producer is gone)');
      throw toAppError(error, 'resume consumer');
    }
  }

  /** A new ICE username and password for the transport (the client restarts ICE); its candidates stay. */
  async restartIce(transportId: string): Promise<TransportOptions['iceParameters']> {
    const transport = this.#transportById(transportId);
    try {
      return await transport.restartIce();
    } catch (error) {
      throw toAppError(error, 'restart ICE');
    }
  }

  /** Closes the transport and consumers. Idempotent. */
  close(reason: ViewerCloseReason = 'left'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeTransport();
    this.#consumers.clear();
    this.#logger.debug({ reason }, 'viewer closed');
    this.#onClose(reason);
    this.emit('close', reason);
    this.removeAllListeners();
  }

  async #createConsumer(transport: ms.WebRtcTransport, producer: ms.Producer, caps: ms.RtpCapabilities, mid: string | undefined): Promise<ms.Consumer> {
    const spatialLayers = spatialLayerCount(producer);
    const consumer = await transport.consume({
      producerId: producer.id,
      rtpCapabilities: caps,
      ...(mid !== undefined ? { mid } : {}),
      // Paused until the client has its consumer ready: no packets (or key frames) are lost.
      paused: true,
      // Start at the top layer; the LayerGovernor steps down on loss (no bandwidth estimation: viewerCapabilities.ts).
      ...(spatialLayers > 1 ? { preferredLayers: { spatialLayer: spatialLayers - 1 } } : {}),
    });
    if (this.#closed || transport.closed) {
      consumer.close();
      throw new AppError('WRONG_STATE', 'the transport closed while consuming');
    }
    if (consumer.kind === 'video' && spatialLayers > 1) {
      governLayers(consumer, spatialLayers, (error) => this.#logger.warn({ err: error, consumerId: consumer.id }, 'could not set preferred layers'));
    }
    return consumer;
  }

  #register(consumer: ms.Consumer, producerId: string): void {
    this.#consumers.set(consumer.id, { consumer, producerId });
    // Closes with its producer (broadcaster left) or transport; either way forget it.
    consumer.observer.once('close', () => {
      this.#consumers.delete(consumer.id);
      if (!this.#closed) this.emit('consumerclose', consumer.id);
    });
  }

  #transportById(transportId: string): ms.WebRtcTransport {
    this.#assertOpen();
    const transport = this.#transport;
    if (!transport || transport.id !== transportId) throw new AppError('NOT_FOUND', 'unknown transport');
    return transport;
  }

  #closeTransport(): void {
    const transport = this.#transport;
    this.#transport = undefined;
    // Closing the transport closes its consumers, whose observers remove them from the map.
    transport?.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new AppError('WRONG_STATE', 'viewer left');
  }
}

/** Spatial layers a producer offers: simulcast streams or SVC spatial layers. */
function spatialLayerCount(producer: ms.Producer): number {
  const encodings = producer.rtpParameters.encodings ?? [];
  if (producer.type === 'simulcast') return encodings.length;
  if (producer.type === 'svc') return parseScalabilityMode(encodings[0]?.scalabilityMode).spatialLayers;
  return 1;
}
