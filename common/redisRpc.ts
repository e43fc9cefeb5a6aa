import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { AppError } from './errors.ts';
import type { Logger } from './logger.ts';

/** ioredis options BullMQ requires, and that suit every long-lived connection of ours. */
export function redisConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
}

interface RequestEnvelope {
  id: string;
  replyTo: string;
  payload: unknown;
}

interface ReplyEnvelope {
  id: string;
  payload?: unknown;
  error?: { code: string; message: string };
}

/**
 * Request/response and broadcast messages over Redis pub/sub, so processes on different
 * hosts can talk without sharing memory. Requests go to a channel every server of that
 * channel hears; a server answers only what is its own (its handler returns undefined
 * otherwise), on the caller's private reply channel. Nothing is queued: a request that no
 * one answers times out, and the caller decides what to do (retry or give up).
 */
export class RedisRpc {
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #logger: Logger;
  readonly #replyChannel: string;
  readonly #pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly #listeners = new Map<string, (message: unknown) => void>();
  #closed = false;

  constructor(url: string, logger: Logger) {
    this.#pub = redisConnection(url);
    this.#sub = redisConnection(url);
    this.#logger = logger;
    this.#replyChannel = `spyglass:rpc:reply:${randomUUID()}`;
    this.#sub.on('message', (channel: string, text: string) => this.#onMessage(channel, text));
    for (const c of [this.#pub, this.#sub]) c.on('error', (err: Error) => logger.warn({ err }, 'redis rpc connection error'));
  }

  /** Resolves once both connections are up and the reply channel is subscribed. */
  async ready(): Promise<void> {
    await this.#sub.subscribe(this.#replyChannel);
  }

  /** Answers requests on `channel`. The handler returns the reply, or undefined to stay silent (not ours). */
  async serve(channel: string, handler: (payload: unknown) => Promise<unknown>): Promise<void> {
    this.#listeners.set(channel, (message) => {
      const req = message as Partial<RequestEnvelope>;
      if (typeof req.id !== 'string' || typeof req.replyTo !== 'string' || !req.replyTo.startsWith('spyglass:rpc:reply:')) return;
      const { id, replyTo } = req;
      handler(req.payload).then(
        (payload) => {
          if (payload !== undefined) void this.#publish(replyTo, { id, payload } satisfies ReplyEnvelope);
        },
        (err: unknown) => {
          const error =
            err instanceof AppError ? { code: err.code, message: err.message } : { code: 'INTERNAL', message: 'internal error' };
          if (!(err instanceof AppError)) this.#logger.error({ err, channel }, 'rpc handler failed');
          void this.#publish(replyTo, { id, error } satisfies ReplyEnvelope);
        },
      );
    });
    await this.#sub.subscribe(channel);
  }

  /** Sends a request and waits for the first answer. Rejects with AppError('UNAVAILABLE') on timeout. */
  call(channel: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(new AppError('UNAVAILABLE', 'rpc closed'));
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new AppError('UNAVAILABLE', `no answer on ${channel} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#publish(channel, { id, replyTo: this.#replyChannel, payload } satisfies RequestEnvelope).catch((err: unknown) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(new AppError('UNAVAILABLE', `could not publish on ${channel}: ${(err as Error).message}`));
      });
    });
  }

  /** Fire-and-forget message to every subscriber of `channel`. */
  async publish(channel: string, message: unknown): Promise<void> {
    await this.#publish(channel, message);
  }

  /** Listens to plain messages on `channel` (see publish). */
  async subscribe(channel: string, listener: (message: unknown) => void): Promise<void> {
    this.#listeners.set(channel, listener);
    await this.#sub.subscribe(channel);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new AppError('UNAVAILABLE', 'rpc closed'));
      this.#pending.delete(id);
    }
    this.#sub.disconnect();
    await this.#pub.quit().catch(() => this.#pub.disconnect());
  }

  #publish(channel: string, message: unknown): Promise<number> {
    return this.#pub.publish(channel, JSON.stringify(message));
  }

  #onMessage(channel: string, text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.#logger.warn({ channel }, 'dropped a non-JSON rpc message');
      return;
    }
    if (channel === this.#replyChannel) {
      const reply = message as Partial<ReplyEnvelope>;
      const pending = typeof reply.id === 'string' ? this.#pending.get(reply.id) : undefined;
      if (!pending || typeof reply.id !== 'string') return;
      this.#pending.delete(reply.id);
      clearTimeout(pending.timer);
      if (reply.error) pending.reject(new AppError(isCode(reply.error.code) ? reply.error.code : 'INTERNAL', reply.error.message));
      else pending.resolve(reply.payload);
      return;
    }
    this.#listeners.get(channel)?.(message);
  }
}

function isCode(code: unknown): code is ConstructorParameters<typeof AppError>[0] {
  return typeof code === 'string' && /^[A-Z_]+$/.test(code);
}
