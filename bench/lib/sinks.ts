import path from 'node:path';
import { startChild, type ChildHandle } from './child.ts';
import type { SinkRequest, SinkSnapshot } from './sink.child.ts';

export type { SinkSnapshot };

/** The bench process's handle on the UDP sink process (see sink.child.ts). */
export class Sinks {
  readonly #child: ChildHandle;
  #count = 0;

  private constructor(child: ChildHandle) {
    this.#child = child;
  }

  static async start(): Promise<Sinks> {
    const { child } = await startChild<{ pid: number }>(path.join(import.meta.dirname, 'sink.child.ts'));
    return new Sinks(child);
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Sinks open now. */
  get count(): number {
    return this.#count;
  }

  /**
   * Opens `count` more sinks; returns their UDP ports on 127.0.0.1. Sinks are numbered in the
   * order they were opened: the first of these is number {@link count} before the call.
   */
  async open(count: number, payloadTypes: { video: number; audio: number }, recvBufferBytes = 1 << 20): Promise<number[]> {
    const ports = await this.#child.request<number[]>({
      type: 'open',
      count,
      videoPayloadType: payloadTypes.video,
      audioPayloadType: payloadTypes.audio,
      recvBufferBytes,
    } satisfies SinkRequest);
    this.#count += ports.length;
    return ports;
  }

  snapshot(): Promise<SinkSnapshot> {
    return this.#child.request<SinkSnapshot>({ type: 'snapshot' } satisfies SinkRequest);
  }

  stop(): Promise<void> {
    return this.#child.stop();
  }
}
