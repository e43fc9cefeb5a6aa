import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import type { ServerOptions } from 'socket.io';
import type { Config } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';

/**
 * The socket.io adapter: how a room broadcast (a chat message, a viewer count, "ended", a
 * sign-out) reaches sockets on other nodes. `memory` (the default) is socket.io's own, for one
 * node. `redis` is the Redis streams adapter: every node appends to and reads one Redis stream
 * (`<queuePrefix>:socket.io`), which survives a short Redis or node blip without losing
 * messages (and keeps socket.io's connection-state recovery). What it costs: one XADD per
 * room broadcast, one blocking XREAD per node.
 */
export interface SocketAdapter {
  /** For socket.io's `adapter` option; undefined for the in-memory default. */
  readonly adapter: ServerOptions['adapter'] | undefined;
  /** Closes its Redis connection (idempotent); the adapter closes its own duplicates. */
  close(): void;
}

export function socketAdapter(config: Pick<Config, 'socketAdapter' | 'redisUrl' | 'queuePrefix'>, logger: Logger): SocketAdapter {
  if (config.socketAdapter === 'memory') return { adapter: undefined, close: () => undefined };
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) logger.warn({ err }, 'socket.io adapter: Redis does not answer; other nodes miss this node’s room messages until it does');
    down = true;
  });
  redis.on('ready', () => (down = false));
  const name = `${config.queuePrefix}:socket.io`;
  return {
    adapter: createAdapter(redis, { streamName: name, channelPrefix: name, sessionKeyPrefix: `${name}:session:` }) as ServerOptions['adapter'],
    close: () => redis.disconnect(),
  };
}
