import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { promisify } from 'node:util';
import { udpSocketDrops } from './proc.ts';

/**
 * The fan-out benchmark's UDP sinks: bench/lib/sink.c, compiled when the benchmark starts with
 * the system's C compiler (`cc`, or $CC) into a temp dir, and driven over its stdin/stdout.
 * Written in C for a measured reason (see the header of sink.c): the Node sink cost 7–20 µs per
 * packet on the load generator's core. Several viewers share a socket; counters are per viewer,
 * keyed by the source port of its transport. Without a compiler the benchmark fails with a
 * clear error rather than measure with a slower sink.
 */

/** One viewer's cumulative counters (see sink.c); seq: the highest extended RTP sequence number, −1 for none. */
export interface ViewerCounters {
  video: number;
  audio: number;
  videoSeq: number;
  audioSeq: number;
  other: number;
  rtcp: number;
  bytes: number;
}

export interface CSinkSnapshot {
  /** By the viewer transport's source port. */
  viewers: Map<number, ViewerCounters>;
  /** Spread of arrival delay over the viewers since the previous snapshot (audio packets: each viewer's arrival minus the earliest viewer's), µs; null: no samples. */
  delay: { samples: number; p50Us: number; p99Us: number; maxUs: number } | null;
}

const EMPTY: ViewerCounters = { video: 0, audio: 0, videoSeq: -1, audioSeq: -1, other: 0, rtcp: 0, bytes: 0 };

export class CSinks {
  readonly #child: ChildProcess;
  readonly #lines: Interface;
  readonly #dir: string;
  /** Readers of the replies, in the order of the commands; each returns true when its reply is complete. */
  readonly #replies: Array<(line: string) => boolean> = [];
  readonly #ports: number[] = [];
  readonly #perSocket: number;
  #next = 0;
  #stopped = false;

  private constructor(child: ChildProcess, dir: string, perSocket: number) {
    this.#child = child;
    this.#dir = dir;
    this.#perSocket = perSocket;
    this.#lines = createInterface({ input: child.stdout! });
    this.#lines.on('line', (line) => {
      const reader = this.#replies[0];
      if (reader?.(line)) this.#replies.shift();
    });
  }

  /** Compiles and starts the sink; `perSocket` viewers share each socket. */
  static async start(perSocket = 8): Promise<CSinks> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-bench-sink-'));
    const bin = path.join(dir, 'sink');
    const cc = process.env.CC ?? 'cc';
    try {
      await promisify(execFile)(cc, ['-O2', '-o', bin, path.join(import.meta.dirname, 'sink.c')], { timeout: 60_000 });
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new Error(`the fan-out benchmark compiles its UDP sink (bench/lib/sink.c) with "${cc}", which failed: ${why}. Install a C compiler (apt-get install gcc) or set CC.`);
    }
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    return new CSinks(child, dir, perSocket);
  }

  /** Counts these payload types as video and audio (added to those given before). */
  async countPayloadTypes(payloadTypes: { video: number; audio: number }): Promise<void> {
    const [ok] = await this.#ask(`pt ${payloadTypes.video} ${payloadTypes.audio}`);
    if (ok !== 'ok') throw new Error(`sink: ${ok}`);
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Every socket's port. */
  get ports(): readonly number[] {
    return this.#ports;
  }

  /** Sends a command; `more` is given every reply line and says whether more lines belong to this reply. */
  #ask(command: string, more: (line: string) => boolean = () => false): Promise<string[]> {
    if (this.#child.exitCode !== null) return Promise.reject(new Error('the sink process exited'));
    return new Promise((resolve) => {
      const got: string[] = [];
      this.#replies.push((line) => {
        got.push(line);
        if (more(line)) return false;
        resolve(got);
        return true;
      });
      this.#child.stdin!.write(`${command}\n`);
    });
  }

  /** Destination ports for `count` more viewers (opening sockets as needed: `perSocket` viewers each). */
  async open(count: number, recvBufferBytes = 4 << 20): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const socket = Math.floor(this.#next / this.#perSocket);
      if (socket >= this.#ports.length) {
        const [line = ''] = await this.#ask(`open 1 ${recvBufferBytes}`);
        const port = Number(line);
        if (!Number.isInteger(port) || port <= 0) throw new Error(`sink: cannot open a socket (${line})`);
        this.#ports.push(port);
      }
      out.push(this.#ports[socket]!);
      this.#next += 1;
    }
    return out;
  }

  /** Counters of every viewer seen so far, and the delay histogram since the previous snapshot. */
  async snapshot(): Promise<CSinkSnapshot> {
    const lines = await this.#ask('snap', (line) => !line.startsWith('d '));
    const viewers = new Map<number, ViewerCounters>();
    for (const line of lines.slice(1, -1)) {
      const [port, video, audio, videoSeq, audioSeq, other, rtcp, bytes] = line.split(' ').map((x) => Number(x));
      viewers.set(port!, { video: video!, audio: audio!, videoSeq: videoSeq!, audioSeq: audioSeq!, other: other!, rtcp: rtcp!, bytes: bytes! });
    }
    const [, samples, p50Us, p99Us, maxUs] = lines.at(-1)!.split(' ').map((x) => Number(x));
    return { viewers, delay: samples ? { samples, p50Us: p50Us!, p99Us: p99Us!, maxUs: maxUs! } : null };
  }

  /** Datagrams the kernel dropped so far on the sinks' sockets (full receive buffers); null without /proc. */
  drops(): number | null {
    return udpSocketDrops(this.#ports);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const exited = new Promise<void>((resolve) => (this.#child.exitCode !== null ? resolve() : this.#child.once('exit', () => resolve())));
    this.#child.stdin!.end();
    this.#child.kill('SIGTERM');
    await exited;
    this.#lines.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

export function countersOf(s: CSinkSnapshot, port: number): ViewerCounters {
  return s.viewers.get(port) ?? EMPTY;
}
