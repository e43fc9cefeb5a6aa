// The parts of proxy-addr (express's own dependency, untyped) that the socket layer uses.
declare module 'proxy-addr' {
  import type { IncomingMessage } from 'node:http';

  /** Whether the hop at `addr` (index `i` from the socket) is a trusted proxy. */
  type Trust = (addr: string, i: number) => boolean;

  /** The client address of `req`: the socket's, or the nearest untrusted one in X-Forwarded-For. */
  function proxyaddr(req: IncomingMessage, trust: Trust | string | string[]): string;
  namespace proxyaddr {
    /** Compiles addresses, subnets or names ('loopback', 'uniquelocal', …) into a trust function. */
    function compile(val: string | string[]): Trust;
  }
  export default proxyaddr;
}
