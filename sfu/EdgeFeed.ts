import type { types as ms } from 'mediasoup';
import type { PipedProducer, PipeEndpoint } from '../common/cluster/pipeProtocol.ts';
import type { Logger } from '../common/logger.ts';
import { createNodePipeTransport, endpointOf, type PipeListen } from './pipeEnds.ts';
import { TypedEmitter } from './TypedEmitter.ts';
import { toAppError, toMsRtpParameters } from './wire.ts';

/**
 * Key-frame requests from this edge's viewers reach the origin at most once per this
 * interval per track: a join storm on an edge does not flood the broadcaster.
 */
export const EDGE_KEY_FRAME_REQUEST_DELAY_MS = 1000;

export type EdgeFeedEvents = { close: [] };

export interface EdgeFeedOptions extends PipeListen {
  router: ms.Router;
  logger: Logger;
}

/**
 * An edge node's end of a pipe from a broadcast's origin node: a PipeTransport on the edge's
 * router whose producers are copies of the origin's (same ids). Created first (its endpoint
 * goes to the origin), then connected to the origin's end.
 */
export class EdgeFeed extends TypedEmitter<EdgeFeedEvents> {
  readonly endpoint: PipeEndpoint;
  readonly #transport: ms.PipeTransport;
  readonly #logger: Logger;
  #closed = false;

  private constructor(transport: ms.PipeTransport, endpoint: PipeEndpoint, logger: Logger) {
    super((event, error) => logger.error({ err: error, event }, 'EdgeFeed listener threw'));
    this.#transport = transport;
    this.endpoint = endpoint;
    this.#logger = logger;
    transport.observer.once('close', () => this.close());
  }

  static async create(o: EdgeFeedOptions): Promise<EdgeFeed> {
    let transport: ms.PipeTransport | undefined;
    try {
      transport = await createNodePipeTransport(o.router, o, { role: 'edge-feed' });
      return new EdgeFeed(transport, endpointOf(transport, o), o.logger);
    } catch (error) {
      transport?.close();
      throw toAppError(error, 'create edge feed');
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Connects to the origin's end (once). */
  async connect(origin: PipeEndpoint): Promise<void> {
    try {
      await this.#transport.connect({ ip: origin.ip, port: origin.port, srtpParameters: origin.srtp });
    } catch (error) {
      throw toAppError(error, 'connect edge feed');
    }
    this.#logger.info({ origin: `${origin.ip}:${origin.port}` }, 'edge feed connected');
  }

  /** Re-creates an origin producer here, with its id. */
  async produce(p: PipedProducer): Promise<ms.Producer> {
    try {
      return await this.#transport.produce({
        id: p.id,
        kind: p.kind,
        rtpParameters: toMsRtpParameters(p.rtpParameters),
        paused: p.paused,
        ...(p.kind === 'video' ? { keyFrameRequestDelay: EDGE_KEY_FRAME_REQUEST_DELAY_MS } : {}),
      });
    } catch (error) {
      throw toAppError(error, 'produce from the origin');
    }
  }

  /** Closes the transport and its producers (their consumers follow); emits 'close' once. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.close();
    this.#logger.info('edge feed closed');
    this.emit('close');
    this.removeAllListeners();
  }
}
