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
export class MediaWorker {
  /** Position in the pool; a replacement worker keeps the index (and the WebRTC port). */
  readonly index: number;
  readonly worker: ms.Worker;
  readonly webRtcServer: ms.WebRtcServer;
  #routers = 0;
  #consumers = 0;
  #pendingRouters = 0;

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
        transport.observer.on('newconsumer', (consumer) => {
          this.#consumers += 1;
          consumer.observer.once('close', () => {
            this.#consumers -= 1;
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

  /** Creates a router with the service's media codecs. AppError('UNAVAILABLE') if the worker is gone. */
  async createRouter(): Promise<ms.Router> {
    if (!this.alive) throw new AppError('UNAVAILABLE', `media worker ${this.index} is not running`);
    // Counted while pending so that concurrent picks do not all land on this worker.
    this.#pendingRouters += 1;
    try {
      return await this.worker.createRouter({ mediaCodecs });
    } catch (error) {
      throw new AppError('UNAVAILABLE', `media worker ${this.index} could not create a router`, { cause: error });
    } finally {
      this.#pendingRouters -= 1;
    }
  }
}
