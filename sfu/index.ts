/** The media domain: mediasoup workers, broadcasts and viewers. Imports only common/ and mediasoup. */
export { mediaCodecs } from './mediaCodecs.ts';
export { WorkerPool, type WorkerPoolOptions, type WorkerPoolEvents } from './WorkerPool.ts';
export { MediaWorker } from './MediaWorker.ts';
export {
  Broadcast,
  type BroadcastCloseReason,
  type BroadcastEvents,
  type BroadcastObserverEvents,
  type BroadcastOptions,
  type ProducerSource,
  type SendTransportLoss,
} from './Broadcast.ts';
export type { RtpIngestEndpoint } from './rtpIngest.ts';
export type { BroadcastRouterView } from './BroadcastRouter.ts';
export { Viewer, type ViewerCloseReason, type ViewerEvents } from './Viewer.ts';
export { TypedEmitter, createObserver, type EventMap } from './TypedEmitter.ts';
