import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/**
 * Counts open connections per client address and refuses more than a cap. The count is per
 * signalling process (`LocalConnectionLimiter`); with several nodes behind a load balancer a
 * shared implementation (e.g. counters in Redis with a TTL refreshed by heartbeats) goes
 * behind this same interface.
 */
export interface ConnectionLimiter {
  /** Takes a slot for `address`; false when it already holds the maximum. */
  tryAcquire(address: string): boolean;
  /** Gives back a slot taken by `tryAcquire`. */
  release(address: string): void;
  /** Open connections of `address` now. */
  count(address: string): number;
}

/** A `ConnectionLimiter` in this process's memory. */
export class LocalConnectionLimiter implements ConnectionLimiter {
  readonly #max: number;
  readonly #open = new Map<string, number>();

  /** @param max connections allowed per address at once. */
  constructor(max: number) {
    this.#max = max;
  }

  tryAcquire(address: string): boolean {
    const n = this.#open.get(address) ?? 0;
    if (n >= this.#max) return false;
    this.#open.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = this.#open.get(address) ?? 0;
    if (n <= 1) this.#open.delete(address);
    else this.#open.set(address, n - 1);
  }

  count(address: string): number {
    return this.#open.get(address) ?? 0;
  }
}

/**
 * The client's address as express computes `req.ip` with `trust proxy` set to `hops`
 * (proxy-addr, as express uses): the socket's remote address when `hops` is 0, else the
 * X-Forwarded-For entry `hops` proxies from the socket — what the outermost trusted proxy saw,
 * never an entry the client wrote. IPv4-mapped IPv6 addresses are unmapped so
 * `::ffff:1.2.3.4` and `1.2.3.4` count as one client.
 */
export function clientAddress(req: IncomingMessage, hops: number): string {
  const address = proxyaddr(req, (_addr, i) => i < hops);
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
