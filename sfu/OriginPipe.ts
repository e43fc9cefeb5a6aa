import { randomUUID } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import type { PipedProducer, PipeEndpoint } from '../common/cluster/pipeProtocol.ts';
import type { Logger } from '../common/logger.ts';
import type { RtpParameters } from '../common/protocol/media.ts';
import { createNodePipeTransport, endpointOf, type PipeListen } from './pipeEnds.ts';
import { TypedEmitter } from './TypedEmitter.ts';
import { toAppError } from './wire.ts';

export type OriginPipeEvents = {
  /** A producer added after the pipe opened, consumed into it (the edge must re-create it). */
  producer: [PipedProducer];
  /** A pipe consumer closed because its producer did (the edge must close its copy). */
  producerclose: [producerId: string];
  /** Emitted once. */
  close: [];
};

export interface OriginPipeOptions extends PipeListen {
  router: ms.Router;
  /** The edge's end: the origin connects to it at once. */
  edge: PipeEndpoint;
  producers: ReadonlyArray<ms.Producer>;
  logger: Logger;
}

/**
 * The origin's end of a pipe to one edge node: a PipeTransport on the broadcast's origin
 * router and one pipe consumer per producer. The edge re-creates each producer with the same
 * id from {@link PipedProducer}. Closing it (or its router) stops the media towards that edge.
 */
/** Totals of one pipe, or of several (OriginPipe.traffic). */
export interface PipeTraffic {
  bytes: number;
  packets: number;
  nacks: number;
  keyFrameRequests: number;
}

export class OriginPipe extends TypedEmitter<OriginPipeEvents> {
  readonly id: string;
  /** The origin's end, for the edge to connect to. */
  readonly endpoint: PipeEndpoint;
  readonly #transport: ms.PipeTransport;
  readonly #consumers = new Map<string, ms.Consumer>();
  readonly #logger: Logger;
  /** Set once open() returned its producers: later ones are announced with 'producer'. */
  #announce = false;
  #closed = false;

  private constructor(id: string, transport: ms.PipeTransport, endpoint: PipeEndpoint, logger: Logger) {
    super((event, error) => logger.error({ err: error, event }, 'OriginPipe listener threw'));
    this.id = id;
    this.#transport = transport;
    this.endpoint = endpoint;
    this.#logger = logger;
    transport.observer.once('close', () => this.close());
  }

  /** Opens the transport, connects it to the edge and consumes every producer. Closes what it opened on failure. */
  static async open(o: OriginPipeOptions, id: string = randomUUID()): Promise<{ pipe: OriginPipe; producers: PipedProducer[] }> {
    let transport: ms.PipeTransport | undefined;
    try {
      transport = await createNodePipeTransport(o.router, o, { role: 'origin-pipe', pipeId: id });
      await transport.connect({ ip: o.edge.ip, port: o.edge.port, srtpParameters: o.edge.srtp });
      const pipe = new OriginPipe(id, transport, endpointOf(transport, o), o.logger.child({ pipeId: id }));
      const producers: PipedProducer[] = [];
      for (const producer of o.producers) producers.push(await pipe.addProducer(producer));
      pipe.#announce = true;
      pipe.#logger.info({ edge: `${o.edge.ip}:${o.edge.port}`, producers: producers.length }, 'origin pipe opened');
      return { pipe, producers };
    } catch (error) {
      transport?.close();
      throw toAppError(error, 'open origin pipe');
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Consumes `producer` into the pipe (once); what the edge needs to re-create it. */
  async addProducer(producer: ms.Producer): Promise<PipedProducer> {
    const existing = this.#consumers.get(producer.id);
    const consumer = existing ?? (await this.#transport.consume({ producerId: producer.id }));
    if (!existing) {
      this.#consumers.set(producer.id, consumer);
      consumer.observer.once('close', () => {
        this.#consumers.delete(producer.id);
        if (!this.#closed) this.emit('producerclose', producer.id);
      });
    }
    const piped: PipedProducer = {
      id: producer.id,
      kind: consumer.kind,
      // mediasoup's own parameters: the edge checks them against the wire schema.
      rtpParameters: consumer.rtpParameters as RtpParameters,
      paused: consumer.producerPaused,
    };
    if (!existing && this.#announce) this.emit('producer', piped);
    return piped;
  }

  /**
   * What the pipe carried since it opened, over its consumers (mediasoup's `outbound-rtp`
   * stats): bytes and packets sent to the edge, NACKs and key-frame requests (PLI + FIR)
   * received from it.
   */
  async traffic(): Promise<PipeTraffic> {
    const total: PipeTraffic = { bytes: 0, packets: 0, nacks: 0, keyFrameRequests: 0 };
    for (const consumer of [...this.#consumers.values()]) {
      const stats = await consumer.getStats().catch(() => []);
      for (const s of stats) {
        if (s.type !== 'outbound-rtp') continue;
        total.bytes += s.byteCount;
        total.packets += s.packetCount;
        total.nacks += s.nackCount;
        total.keyFrameRequests += s.pliCount + s.firCount;
      }
    }
    return total;
  }

  /** Closes the transport and its consumers; emits 'close' once. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.close();
    this.#consumers.clear();
    this.#logger.info('origin pipe closed');
    this.emit('close');
    this.removeAllListeners();
  }
}
