import net from 'node:net';
import type { Logger } from '../../../common/logger.ts';
import type { RtpIngest, StreamKeyAuthority } from '../ports.ts';
import { RtmpConnection, type IngestWarnings } from './RtmpConnection.ts';

export interface RtmpServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Connections open at once, over all addresses; past it new ones are closed at once. */
  maxConnections: number;
  publishTimeoutMs: number;
  mediaTimeoutMs: number;
  keyframeWarningMs: number;
  ffmpegPath?: string | undefined;
}

/**
 * The RTMP listener (docs/ingest.md, "RTMP"): `rtmp://<host>:<port>/live/<stream key>`. It owns
 * its connections ({@link RtmpConnection}, one per encoder) and closes them when it closes.
 */
export class RtmpServer {
  readonly #server: net.Server;
  readonly #connections = new Set<RtmpConnection>();
  readonly #log: Logger;
  #closing: Promise<void> | undefined;

  private constructor(server: net.Server, log: Logger) {
    this.#server = server;
    this.#log = log;
  }

  /** Listens on `options.host:options.port`. */
  static async open(
    options: RtmpServerOptions,
    deps: { authority: StreamKeyAuthority; broadcasts: RtpIngest; warnings: IngestWarnings; logger: Logger },
  ): Promise<RtmpServer> {
    const log = deps.logger.child({ component: 'rtmp-ingest' });
    const server = net.createServer();
    const rtmp = new RtmpServer(server, log);
    server.on('connection', (socket) => {
      if (rtmp.#closing || rtmp.#connections.size >= options.maxConnections) {
        log.warn({ address: socket.remoteAddress, open: rtmp.#connections.size }, 'RTMP connection refused: the server is full or closing');
        socket.destroy();
        return;
      }
      const connection = new RtmpConnection(socket, {
        authority: deps.authority,
        broadcasts: deps.broadcasts,
        warnings: deps.warnings,
        logger: log,
        publishTimeoutMs: options.publishTimeoutMs,
        mediaTimeoutMs: options.mediaTimeoutMs,
        keyframeWarningMs: options.keyframeWarningMs,
        claimKey: (key, claimant) => rtmp.#claimKey(key, claimant),
        ffmpegPath: options.ffmpegPath,
      });
      rtmp.#connections.add(connection);
      connection.on('close', () => rtmp.#connections.delete(connection));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(new Error(`the RTMP ingest cannot listen on ${options.host}:${String(options.port)} (${error.code ?? error.message}): set ingest.rtmp.port (SPYGLASS_RTMP_PORT), or turn it off (SPYGLASS_RTMP=false)`, { cause: error })),
      );
      server.listen(options.port, options.host, () => {
        server.removeAllListeners('error');
        resolve();
      });
    });
    server.on('error', (error) => log.error({ err: error }, 'RTMP listener error'));
    log.info({ address: rtmp.address }, 'RTMP ingest listening');
    return rtmp;
  }

  /**
   * One connection per stream key: a second encoder with the key is refused while the first
   * still sends; a first that has sent nothing for 2 s (a lost encoder whose TCP connection
   * was never closed, e.g. OBS reconnecting after a network change) is let go, so the new one
   * resumes the broadcast.
   */
  async #claimKey(key: string, claimant: RtmpConnection): Promise<string | undefined> {
    for (const other of this.#connections) {
      if (other === claimant || other.key !== key) continue;
      if (other.sentWithin(2000)) return 'ALREADY_LIVE: this stream key is streaming from another encoder';
      this.#log.info({ broadcastId: other.broadcastId }, 'a new encoder publishes with the key of a silent one: the silent one is taken for lost');
      await other.close();
    }
    return undefined;
  }

  /** Where it listens. */
  get address(): { host: string; port: number } {
    const a = server(this.#server);
    return { host: a.address, port: a.port };
  }

  /** Encoder connections open now (any state). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Stops listening and closes every connection (their broadcasts are dropped, then ended by the live domain's shutdown). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      await Promise.all([...this.#connections].map((c) => c.close()));
      await stopped;
      this.#log.info('RTMP ingest closed');
    })();
    return this.#closing;
  }
}

function server(s: net.Server): net.AddressInfo {
  const a = s.address();
  if (a === null || typeof a === 'string') throw new Error('the RTMP listener is not listening on TCP');
  return a;
}
