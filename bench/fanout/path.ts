import type { Ingest } from '../../testkit/media.ts';
import type { PlainViewer } from './plainViewer.ts';

/** The fan-out's paths: raw mediasoup, Spyglass, and raw mediasoup on Spyglass's worker binary (when the two differ). */
export type PathName = 'raw' | 'spyglass' | 'raw-same-binary';

/** One way of serving the fan-out benchmark's viewers: raw mediasoup, or Spyglass's sfu/ classes. */
export interface FanoutPath {
  readonly name: PathName;
  /** The synthetic broadcaster's producers and where ffmpeg sends to. */
  readonly ingest: Ingest;
  /** Payload types the viewers' consumers send (the sinks count by them). */
  readonly payloadTypes: { video: number; audio: number };
  /** mediasoup worker processes serving this path (CPU and RSS are read from /proc). */
  workerPids(): number[];
  /** Attaches one viewer whose media goes to the UDP sink on `sinkPort`. */
  addViewer(id: string, sinkPort: number): Promise<PlainViewer>;
  /** Routers and workers in use right now. */
  layout(): { workers: number; routers: number; edges: number; pipeTransports: number };
  close(): Promise<void>;
}
