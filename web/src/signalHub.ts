import type { Signal } from './signaling.ts';

/**
 * The app's one socket.io connection to its own origin, kept across page navigations: a page
 * that watches uses it instead of opening its own, so a join does not wait for a new
 * WebSocket and its handshake (docs/benchmarks.md, "Time to first frame").
 *
 * Opened by the first page that asks (`shared(open)`; `open` comes from the page's chunk, so
 * the home page's bundle stays without socket.io-client) and never closed by a page: a page
 * removes its own listeners and leaves what it joined. `renew()` reconnects it after a sign-in
 * or sign-out, whose new cookie the socket only reads at its handshake.
 */
export class SignalHub {
  #signal: Signal | undefined;

  /** The shared connection, opened with `open` the first time. */
  shared(open: () => Signal): Signal {
    this.#signal ??= open();
    return this.#signal;
  }

  /** Whether `signal` is the shared connection (which a page must not close). */
  isShared(signal: Signal): boolean {
    return signal === this.#signal;
  }

  /** A new handshake for the shared connection, if it is open (the session changed). */
  renew(): void {
    this.#signal?.reconnect();
  }
}
