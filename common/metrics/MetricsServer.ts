import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.ts';

/**
 * `GET /metrics` on a port of its own, without authentication, for a Prometheus that scrapes
 * over a private network (bind it to a private or loopback address: `metrics.host`). Any other
 * method or path is 404. Close is idempotent.
 */
export class MetricsServer {
  readonly #server: http.Server;
  #closing: Promise<void> | undefined;

  private constructor(server: http.Server) {
    this.#server = server;
  }

  static async start(o: { registry: Registry; host: string; port: number; logger: Logger }): Promise<MetricsServer> {
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      o.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(text),
        (err: unknown) => {
          o.logger.warn({ err }, 'could not collect metrics');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('could not collect metrics\n');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    o.logger.info({ host: o.host, port: (server.address() as AddressInfo).port }, 'metrics served');
    return new MetricsServer(server);
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return (this.#closing ??= new Promise<void>((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    }));
  }
}
