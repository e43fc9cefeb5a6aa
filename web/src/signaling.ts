import { io, type Socket } from 'socket.io-client';
import type { RequestInput, RequestName, Responses, ServerToClientEvents } from '../../common/protocol/events.ts';
import { ProtocolError, type Ack } from '../../common/protocol/errors.ts';
import { isRecord, isWireError } from './guards.ts';

/** Default time a request waits for its ack. */
export const REQUEST_TIMEOUT_MS = 10_000;

type ServerEvent = keyof ServerToClientEvents;

/** Options for `Signal.connect`. */
export interface SignalOptions {
  /** Server URL. Default: this page's origin. */
  url?: string;
  /** Request timeout in ms. Default 10 000. */
  timeoutMs?: number;
}

/**
 * The envelope check of an ack. The payload inside `data` was validated and typed by the
 * server; checking it again here would need zod in the bundle.
 */
function isAck<T>(x: unknown): x is Ack<T> {
  return isRecord(x) && (x['ok'] === true ? 'data' in x : x['ok'] === false && isWireError(x['error']));
}

/**
 * A typed wrapper around one socket.io connection.
 *
 * - `request(event, payload)` emits with an ack and resolves with `data`, or throws
 *   `ProtocolError` (the server's `{ ok: false }`, a timeout, or a closed signal).
 * - `on(event, handler)` listens to a server event, typed from `ServerToClientEvents`.
 * - socket.io reconnects by itself; `onReconnect` fires after every reconnection (not the
 *   first connection) so pages can resume or rejoin.
 */
export class Signal {
  // Untyped on purpose: socket.io's generic event types cannot follow a generic event
  // name, so `request` and `on` below are the typed surface.
  readonly #socket: Socket;
  readonly #timeoutMs: number;
  #closed = false;
  #everConnected = false;
  readonly #reconnectListeners = new Set<() => void>();
  readonly #disconnectListeners = new Set<(reason: string) => void>();
  readonly #connectErrorListeners = new Set<(err: Error) => void>();
  /** Rejects the requests still waiting for their ack (when the signal closes). */
  readonly #pending = new Set<(err: ProtocolError) => void>();

  constructor(socket: Socket, timeoutMs: number = REQUEST_TIMEOUT_MS) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#everConnected = socket.connected;
    socket.on('connect', () => {
      if (!this.#everConnected) {
        this.#everConnected = true;
        return;
      }
      for (const listener of this.#reconnectListeners) listener();
    });
    socket.on('disconnect', (reason) => {
      for (const listener of this.#disconnectListeners) listener(reason);
      // A server-side disconnect is final for socket.io; we still want to come back.
      if (reason === 'io server disconnect' && !this.#closed) socket.connect();
    });
    socket.on('connect_error', (err: Error) => {
      for (const listener of this.#connectErrorListeners) listener(err);
    });
  }

  /** Connects to the signalling server on this origin (the session cookie authenticates). */
  static connect(options: SignalOptions = {}): Signal {
    // WebSocket only (as the server): one connection per client, so any node behind a plain
    // load balancer can take it, with no sticky sessions (docs/operations.md).
    const opts = { path: '/socket.io', withCredentials: true, transports: ['websocket'] };
    const socket = options.url === undefined ? io(opts) : io(options.url, opts);
    return new Signal(socket, options.timeoutMs);
  }

  get connected(): boolean {
    return this.#socket.connected;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a request and resolves with the ack's data; throws `ProtocolError` otherwise. */
  request<E extends RequestName>(event: E, payload: RequestInput<E>): Promise<Responses[E]> {
    if (this.#closed) return Promise.reject(new ProtocolError({ code: 'UNAVAILABLE', message: 'connection closed' }));
    return new Promise((resolve, reject) => {
      const fail = (err: ProtocolError) => {
        this.#pending.delete(fail);
        reject(err);
      };
      this.#pending.add(fail);
      this.#socket.timeout(this.#timeoutMs).emit(event, payload, (err: Error | null, res: unknown) => {
        this.#pending.delete(fail);
        if (err) {
          reject(new ProtocolError({ code: 'UNAVAILABLE', message: `${event} timed out after ${this.#timeoutMs / 1000} s` }));
        } else if (!isAck<Responses[E]>(res)) {
          reject(new ProtocolError({ code: 'INTERNAL', message: `malformed ack for ${event}` }));
        } else if (res.ok) {
          resolve(res.data);
        } else {
          reject(new ProtocolError(res.error));
        }
      });
    });
  }

  /** Listens to a server event; returns the function that removes the listener. */
  on<E extends ServerEvent>(event: E, handler: ServerToClientEvents[E]): () => void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the untyped socket's listener type
  on(event: string, handler: (...args: any[]) => void): () => void {
    this.#socket.on(event, handler);
    return () => {
      this.#socket.off(event, handler);
    };
  }

  /** Called after each automatic reconnection; returns the unsubscribe function. */
  onReconnect(handler: () => void): () => void {
    this.#reconnectListeners.add(handler);
    return () => this.#reconnectListeners.delete(handler);
  }

  /** Called when the connection drops (socket.io then retries by itself). */
  onDisconnect(handler: (reason: string) => void): () => void {
    this.#disconnectListeners.add(handler);
    return () => this.#disconnectListeners.delete(handler);
  }

  /** Called when a connection attempt fails (unreachable, refused handshake); socket.io then retries by itself. */
  onConnectError(handler: (err: Error) => void): () => void {
    this.#connectErrorListeners.add(handler);
    return () => this.#connectErrorListeners.delete(handler);
  }

  /**
   * Drops the connection and opens a new one at once (a new handshake: the session cookie is
   * read again, e.g. after signing in or out). Listeners stay; `onReconnect` fires once the new
   * connection is up, so pages rejoin with the new identity. Nothing once closed.
   */
  reconnect(): void {
    if (this.#closed) return;
    this.#socket.disconnect();
    this.#socket.connect();
  }

  /** Closes the connection for good; requests still waiting fail with UNAVAILABLE. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fail of [...this.#pending]) fail(new ProtocolError({ code: 'UNAVAILABLE', message: 'connection closed' }));
    this.#reconnectListeners.clear();
    this.#disconnectListeners.clear();
    this.#connectErrorListeners.clear();
    this.#socket.removeAllListeners();
    this.#socket.disconnect();
  }
}
