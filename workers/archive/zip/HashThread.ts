import { Worker } from 'node:worker_threads';
import type { FileHashes, FromThread, ToThread, Wanted } from './hashMessages.ts';

/** Bytes handed to the hashing thread and not hashed yet, beyond which writing waits. */
export const HASH_BACKLOG = 8 << 20;

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (err: Error) => void;
}

/** A hashing thread: at most HASH_BACKLOG bytes handed to it wait unhashed. */
export class HashThread {
  readonly #worker = new Worker(new URL('./hashThread.mjs', import.meta.url), { execArgv: [], stdout: false, stderr: false });
  #pending = 0;
  #waiting: Waiter<void> | null = null;
  readonly #files: Array<Waiter<FileHashes>> = [];
  #failure: Error | null = null;

  constructor() {
    this.#worker.on('message', (m: FromThread) => {
      switch (m.t) {
        case 'ack':
          this.#pending -= m.n;
          if (this.#waiting && this.#pending <= HASH_BACKLOG / 2) {
            this.#waiting.resolve();
            this.#waiting = null;
          }
          return;
        case 'file':
          this.#files.shift()?.resolve({ crc32: m.crc32, sha256: m.sha256, bytes: m.bytes });
          return;
        case 'error':
          this.#files.shift()?.reject(Object.assign(new Error(m.message), m.code ? { code: m.code } : {}));
      }
    });
    const fail = (err: Error) => {
      this.#failure ??= err;
      this.#waiting?.reject(err);
      for (const f of this.#files.splice(0)) f.reject(err);
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`a hashing thread exited (${code})`)));
  }

  /** Hands `data` over (the caller must not use its memory again) or, with `copy`, a copy of it. */
  post(message: { t: 'chunk' }, data: Buffer, copy: boolean): Promise<void> | undefined {
    if (this.#failure) return Promise.reject(this.#failure);
    let view: Uint8Array;
    if (copy || data.byteOffset !== 0 || data.length !== data.buffer.byteLength) {
      view = new Uint8Array(data.length);
      view.set(data);
    } else view = new Uint8Array(data.buffer, 0, data.length);
    this.#post({ ...message, data: view }, [view.buffer as ArrayBuffer]);
    this.#pending += view.length;
    if (this.#pending <= HASH_BACKLOG) return undefined;
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  begin(wanted: Wanted): void {
    this.#post({ t: 'begin', ...wanted });
  }

  end(): Promise<FileHashes> {
    const p = this.#expectFile();
    this.#post({ t: 'end' });
    return p;
  }

  read(absPath: string, size: number, wanted: Wanted): Promise<FileHashes> {
    const p = this.#expectFile();
    this.#post({ t: 'read', path: absPath, size, ...wanted });
    return p;
  }

  close(): void {
    this.#worker.removeAllListeners('exit');
    for (const f of this.#files.splice(0)) f.reject(new Error('the zip writer was closed'));
    void this.#worker.terminate();
  }

  #post(message: ToThread, transfer?: ArrayBuffer[]): void {
    this.#worker.postMessage(message, transfer);
  }

  #expectFile(): Promise<FileHashes> {
    if (this.#failure) return Promise.reject(this.#failure);
    const p = new Promise<FileHashes>((resolve, reject) => this.#files.push({ resolve, reject }));
    p.catch(() => undefined); // awaited by the caller; a failure after an abort must not go unhandled
    return p;
  }
}
