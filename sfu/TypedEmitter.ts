import { EventEmitter } from 'node:events';

/** An event map: event name → the tuple of arguments its listeners receive. */
export type EventMap = Record<string, unknown[]>;

/**
 * A Node EventEmitter whose events are checked against an event map.
 *
 * `emit` is `safeEmit`: a listener that throws must not unwind the media code that emitted
 * (for example the worker-death handler that still has to start a replacement), so the
 * error goes to `onListenerError` instead.
 */
export class TypedEmitter<E extends EventMap> {
  /** Type-level only (never set): lets generic helpers infer the event map of a subclass. */
  declare readonly eventMap?: E;
  readonly #emitter = new EventEmitter();
  readonly #onListenerError: (event: string, error: unknown) => void;

  /** @param onListenerError receives errors thrown by listeners; default: ignore them. */
  constructor(onListenerError: (event: string, error: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
    // Many viewers' handlers may watch one broadcast; the default of 10 would warn on stderr.
    this.#emitter.setMaxListeners(0);
  }

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  listenerCount(event: keyof E & string): number {
    return this.#emitter.listenerCount(event);
  }

  /** Removes every listener (of one event, or of all). */
  removeAllListeners(event?: keyof E & string): this {
    if (event === undefined) this.#emitter.removeAllListeners();
    else this.#emitter.removeAllListeners(event);
    return this;
  }

  /** Calls every listener of `event`; errors thrown by listeners are reported, not rethrown. */
  protected emit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    // rawListeners() returns `once` wrappers, which remove themselves when called.
    const listeners = this.#emitter.rawListeners(event) as Array<(...a: E[K]) => void>;
    if (listeners.length === 0) return false;
    for (const listener of listeners) {
      try {
        listener(...args);
      } catch (error) {
        this.#onListenerError(event, error);
      }
    }
    return true;
  }
}

/** A {@link TypedEmitter} whose owner may emit from outside the class (see {@link createObserver}). */
class ObserverEmitter<E extends EventMap> extends TypedEmitter<E> {
  notify<K extends keyof E & string>(event: K, ...args: E[K]): void {
    this.emit(event, ...args);
  }
}

/**
 * The `observer` of an sfu/ object, as mediasoup's objects have one: a second event channel
 * for those who watch the object (metrics, tests, benchmarks) rather than drive it. Anyone may
 * listen to `observer`; only the owner, who keeps `notify`, emits.
 */
export function createObserver<E extends EventMap>(
  onListenerError: (event: string, error: unknown) => void,
): { observer: TypedEmitter<E>; notify: <K extends keyof E & string>(event: K, ...args: E[K]) => void } {
  const observer = new ObserverEmitter<E>(onListenerError);
  return { observer, notify: (event, ...args) => observer.notify(event, ...args) };
}
