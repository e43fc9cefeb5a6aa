/** The media domain: mediasoup workers, broadcasts and viewers. Imports only common/ and mediasoup. */
export { mediaCodecs } from './mediaCodecs.ts';
export { WorkerPool, type WorkerPoolOptions, type WorkerPoolEvents } from './WorkerPool.ts';
export { MediaWorker } from './MediaWorker.ts';
export { Broadcast, type BroadcastCloseReason, type BroadcastEvents, type BroadcastOptions } from './Broadcast.ts';
export { Viewer, type ViewerCloseReason, type ViewerEvents } from './Viewer.ts';
export { TypedEmitter, type EventMap } from './TypedEmitter.ts';
