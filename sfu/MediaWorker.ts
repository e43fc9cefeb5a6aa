import type { types as ms } from 'mediasoup';
import { AppError } from '../common/errors.ts';
import { mediaCodecs } from './mediaCodecs.ts';

/**
 * One mediasoup worker process and the WebRtcServer that all of its WebRTC transports share
 * (one UDP and one TCP port per worker, instead of a port per transport).
 *
 * Load metric: `routers + consumers + routers being created`. Every consumer is one outgoing
 * RTP stream the worker has to forward, which is where an SFU spends its CPU; a router
 * counts as one so that new broadcasts, which start with no viewers, still spread across
 * workers. Pipe consumers feeding edge routers count like viewers' consumers.
 * The counts follow mediasoup's observer events, so they stay right whoever closes what.
 */
/** What a worker hosts besides routers. Viewer consumers by kind; pipe consumers (feeding other routers) apart. */
export interface MediaCounts {
  transports: number;
  producers: Record<ms.MediaKind, number>;
  consumers: Record<ms.MediaKind, number>;
  pipeConsumers: number;
}

export class MediaWorker {
  /** Position in the pool; a replacement worker keeps the index (and the WebRTC port). */
  readonly index: number;
  readonly worker: ms.Worker;
  readonly webRtcServer: ms.WebRtcServer;
  #routers = 0;
  #consumers = 0;
  #pendingRouters = 0;
  readonly #counts: MediaCounts = { transports: 0, producers: { audio: 0, video: 0 }, consumers: { audio: 0, video: 0 }, pipeConsumers: 0 };

  constructor(index: number, worker: ms.Worker, webRtcServer: ms.WebRtcServer) {
    this.index = index;
    this.worker = worker;
    this.webRtcServer = webRtcServer;
    worker.observer.on('newrouter', (router) => {
      this.#routers += 1;
      router.observer.once('close', () => {
        this.#routers -= 1;
      });
      router.observer.on('newtransport', (transport) => {
        const c = this.#counts;
        c.transports += 1;
        transport.observer.once('close', () => (c.transports -= 1));
        transport.observer.on('newproducer', (producer) => {
          c.producers[producer.kind] += 1;
          producer.observer.once('close', () => (c.producers[producer.kind] -= 1));
        });
        transport.observer.on('newconsumer', (consumer) => {
          this.#consumers += 1;
          const pipe = consumer.type === 'pipe';
          if (pipe) c.pipeConsumers += 1;
          else c.consumers[consumer.kind] += 1;
          consumer.observer.once('close', () => {
            this.#consumers -= 1;
            if (pipe) c.pipeConsumers -= 1;
            else c.consumers[consumer.kind] -= 1;
          });
        });
      });
    });
  }

  /** The worker's OS process id. */
  get pid(): number {
    return this.worker.pid;
  }

  /** False once the worker died or was closed. */
  get alive(): boolean {
    return !this.worker.closed && !this.worker.died;
  }

  /** Routers + consumers hosted, plus routers being created (see the class comment). */
  get load(): number {
    return this.#routers + this.#consumers + this.#pendingRouters;
  }

  /** Number of consumers (viewer and pipe) on this worker. */
  get consumerCount(): number {
    return this.#consumers;
  }

  /** Routers hosted (for /metrics). */
  get routerCount(): number {
    return this.#routers;
  }

  /** Transports, producers and consumers hosted, by kind (for /metrics); a snapshot. */
  get counts(): MediaCounts {
    const c = this.#counts;
    return { transports: c.transports, producers: { ...c.producers }, consumers: { ...c.consumers }, pipeConsumers: c.pipeConsumers };
  }

  /** Creates a router with the service's media codecs. AppError('UNAVAILABLE') if the worker is gone. */
  /** A router with the broadcast codecs (sfu/mediaCodecs.ts), or these (a payload numbering: sfu/payloadNumbering.ts). */
  async createRouter(codecs: ms.RouterRtpCodecCapability[] = mediaCodecs): Promise<ms.Router> {
    if (!this.alive) throw new AppError('UNAVAILABLE', `media worker ${this.index} is not running`);
    // Counted while pending so that concurrent picks do not all land on this worker.
    this.#pendingRouters += 1;
    try {
      return await this.worker.createRouter({ mediaCodecs: codecs });
    } catch (error) {
      throw new AppError('UNAVAILABLE', `media worker ${this.index} could not create a router`, { cause: error });
    } finally {
      this.#pendingRouters -= 1;
    }
  }
}
