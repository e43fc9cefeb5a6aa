import net from 'node:net';

export interface Backend {
  host: string;
  port: number;
}

/**
 * A TCP load balancer in front of several Spyglass nodes, as a deployment has one (docs/scale.md):
 * each new connection goes to the first backend, in order, that accepts it, so that a client
 * whose node died reconnects (socket.io does so by itself) to the next one. No stickiness, no
 * health checks beyond "does it accept": what a plain L4 balancer with fail-over does.
 */
export class TcpBalancer {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #backends: Backend[];
  port = 0;

  private constructor(backends: Backend[]) {
    this.#backends = backends;
    this.#server = net.createServer((client) => void this.#route(client));
  }

  /**
   * Listens on `port` (default: a free one) of 127.0.0.1 in front of `backends`: ports of
   * 127.0.0.1, or host and port (e.g. nodes in network namespaces).
   */
  static async start(backends: Array<number | Backend>, port = 0): Promise<TcpBalancer> {
    const b = new TcpBalancer(backends.map((x) => (typeof x === 'number' ? { host: '127.0.0.1', port: x } : x)));
    await new Promise<void>((resolve) => b.#server.listen(port, '127.0.0.1', () => resolve()));
    b.port = (b.#server.address() as net.AddressInfo).port;
    return b;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #route(client: net.Socket): Promise<void> {
    this.#track(client);
    client.pause();
    for (const backend of this.#backends) {
      const upstream = await connectTo(backend);
      if (!upstream) continue;
      this.#track(upstream);
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.resume();
      return;
    }
    client.destroy();
  }

  #track(s: net.Socket): void {
    this.#sockets.add(s);
    s.on('error', () => s.destroy());
    s.on('close', () => this.#sockets.delete(s));
  }
}

function connectTo(backend: Backend): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(backend.port, backend.host);
    s.once('connect', () => resolve(s));
    s.once('error', () => {
      s.destroy();
      resolve(undefined);
    });
  });
}
