import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io as connectSocket, type Socket } from 'socket.io-client';
import { Redis } from 'ioredis';
import { loadConfig, type Config, type ConfigInput } from '../common/config.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import type { Ack } from '../common/protocol/errors.ts';
import type {
  AuthResponse,
  ClientToServerEvents,
  RequestInput,
  RequestName,
  Responses,
  ServerToClientEvents,
} from '../common/protocol/events.ts';
import { startSpyglass, type RunningSpyglass } from '../signaling/server.ts';
import type { Kdf } from '../signaling/store/passwords.ts';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface TestServer extends RunningSpyglass {
  dataDir: string;
  /** The config the server runs on (a workers process for it must share dataDir, redisUrl and queuePrefix). */
  config: Config;
  /** Closes the server; then deletes its data dir and Redis keys, unless `keepData` (to start it again). */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/** A BullMQ key prefix of its own per test server, so test files sharing one Redis never see each other's jobs. */
export function testQueuePrefix(): string {
  return `spyglass-test-${randomBytes(4).toString('hex')}`;
}

/** Deletes every Redis key under a test prefix. */
export async function dropQueues(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export const webRoot = path.join(import.meta.dirname, '..', 'web', 'dist');

/**
 * Starts the real signalling process in-process: SQLite in a temp dir (or DATABASE_URL from
 * `overrides`), real mediasoup workers on random ports, HTTP on a free port. The one way tests
 * and benchmarks start a server (a benchmark's child process too: bench/lib/spyglass.child.ts).
 * The per-address and per-user limits are raised out of the way (every synthetic client comes
 * from 127.0.0.1) and the no-media timeout is off, unless `overrides` set them.
 */
export async function startTestServer(
  overrides: ConfigInput = {},
  options: {
    /** The service's clock: sunset phases and stored times (tests move it). */
    clock?: () => number;
    /** Start on this data dir (a restart: pass the config's queuePrefix in `overrides` too). Default: a new temp dir. */
    dataDir?: string;
    /** The service's root logger (e.g. test/helpers/logSink.ts to assert on what it logs). Default: silent, or debug with TEST_LOG_LEVEL=debug. */
    logger?: Logger;
    /** The password KDF (default: scrypt), e.g. wrapped to count computations. */
    kdf?: Kdf;
    /** The built web client it serves (default: web/dist), e.g. the benchmarks' fresh build. */
    webRoot?: string;
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'spyglass-test-'));
  const config = loadConfig(
    {},
    {
      mode: 'test',
      dataDir,
      queuePrefix: testQueuePrefix(),
      ...overrides,
      http: { port: 0, ...overrides.http },
      mediasoup: { numWorkers: 1, webRtcPort: 0, ...overrides.mediasoup },
      // Test clients send no RTP (fake producers) and all come from 127.0.0.1: the no-media
      // timeout and the per-address limits are off unless a test sets them (test/security/ does).
      live: { noMediaTimeoutSeconds: 0, ...overrides.live },
      limits: {
        connectionsPerAddress: 100_000,
        goLivesPerAddress: 100_000,
        goLivesPerUser: 100_000,
        signUpsPerAddress: 100_000,
        ...overrides.limits,
      },
      // The RTMP listener is off unless a test turns it on (`ingest.rtmp.enabled`), then on a free port (never 1935: tests run in parallel).
      ingest: { ...overrides.ingest, rtmp: { enabled: false, port: 0, ...overrides.ingest?.rtmp } },
    },
  );
  const logger = options.logger ?? createLogger({ level: process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'silent' });
  const app = await startSpyglass(config, logger, options.webRoot ?? webRoot, {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.kdf ? { kdf: options.kdf } : {}),
  });
  return {
    ...app,
    dataDir,
    config,
    async stop({ keepData = false } = {}) {
      await app.close();
      if (keepData) return;
      try {
        // Job queues, and the rate-limit counters that every server keeps under the prefix.
        await dropQueues(config.redisUrl, config.queuePrefix);
      } finally {
        // Also when Redis is away (a benchmark's server without recording runs without it).
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Nodes of one deployment in this process (docs/scale.md): one PostgreSQL database, one Redis
 * prefix, `cluster.enabled` with these node ids, the Redis socket.io adapter, recording off;
 * `overrides` for the rest (its `cluster` settings go to every node). Stop them in reverse
 * order; any stop deletes the deployment's Redis keys. `options.webRoot`: the web client every
 * node serves (default: web/dist).
 */
export async function startTestNodes(
  databaseUrl: string,
  nodeIds: readonly string[],
  overrides: ConfigInput = {},
  options: { webRoot?: string } = {},
): Promise<TestServer[]> {
  const shared: ConfigInput = { databaseUrl, queuePrefix: testQueuePrefix(), socketAdapter: 'redis', recording: { enabled: false }, ...overrides };
  const nodes: TestServer[] = [];
  try {
    for (const nodeId of nodeIds) nodes.push(await startTestServer({ ...shared, cluster: { ...overrides.cluster, enabled: true, nodeId } }, options));
    return nodes;
  } catch (error) {
    for (const node of nodes.reverse()) await node.stop().catch(() => undefined);
    throw error;
  }
}

/** Signs up a user over HTTP; returns the bearer token and the cookie header. */
export async function signUp(url: string, username: string, password = 'correct horse battery'): Promise<AuthResponse & { cookie: string }> {
  const res = await fetch(`${url}/api/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 201) throw new Error(`signup ${username}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as AuthResponse;
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  return { ...body, cookie };
}

/**
 * Gives an existing account the admin role, as `npm run admin -- grant-admin` does (by the
 * account's id, through the store). Throws when there is no such account.
 */
export async function grantAdmin(server: RunningSpyglass, username: string): Promise<void> {
  const user = await server.stores.users.findByUsername(username);
  if (!user || !(await server.stores.users.setRole(user.id, 'admin'))) throw new Error(`grantAdmin: no user named "${username}"`);
}

/**
 * Connects a real socket.io client: with a bearer token, or anonymous; `cookie`: the session
 * cookie a browser sends instead; `origin`: the Origin header a page of that origin sends.
 */
export async function connect(url: string, token?: string, o: { origin?: string; cookie?: string } = {}): Promise<ClientSocket> {
  const headers = { ...(o.origin ? { origin: o.origin } : {}), ...(o.cookie ? { cookie: o.cookie } : {}) };
  const socket: ClientSocket = connectSocket(url, {
    transports: ['websocket'],
    auth: token ? { token } : {},
    reconnection: false,
    forceNew: true,
    ...(Object.keys(headers).length > 0 ? { extraHeaders: headers } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

/** Resolves with the disconnect reason once `socket` is disconnected (rejects if it still is after `ms`). */
export function disconnected(socket: ClientSocket, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!socket.connected) return resolve('already disconnected');
    const timer = setTimeout(() => reject(new Error(`socket still connected after ${ms} ms`)), ms);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

/** Sends one request and resolves with its ack (never rejects on `{ ok: false }`). */
export function request<E extends RequestName>(socket: ClientSocket, event: E, payload: RequestInput<E>): Promise<Ack<Responses[E]>> {
  const emit = socket.timeout(10_000).emit as unknown as (e: string, p: unknown, cb: (err: Error | null, res: Ack<Responses[E]>) => void) => void;
  return new Promise((resolve, reject) => {
    emit.call(socket, event, payload, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Sends a raw event with any arguments (for bad-input tests); resolves with the ack if one comes. */
export function rawRequest(socket: ClientSocket, event: string, ...args: unknown[]): Promise<unknown> {
  const emit = socket.timeout(5_000).emit as unknown as (e: string, ...a: unknown[]) => void;
  return new Promise((resolve, reject) => {
    emit.call(socket, event, ...args, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res)));
  });
}

/** Like `request`, but throws on `{ ok: false }` and returns the data. */
export async function ok<E extends RequestName>(socket: ClientSocket, event: E, payload: RequestInput<E>): Promise<Responses[E]> {
  const res = await request(socket, event, payload);
  if (!res.ok) throw new Error(`${event} failed: ${res.error.code} ${res.error.message}`);
  return res.data;
}

/** Resolves with the next event of that name (or rejects after `ms`). */
export function nextEvent<E extends keyof ServerToClientEvents>(
  socket: ClientSocket,
  event: E,
  ms = 5_000,
  filter: (...args: Parameters<ServerToClientEvents[E]>) => boolean = () => true,
): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, handler as never);
      reject(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    const handler = (...args: Parameters<ServerToClientEvents[E]>) => {
      if (!filter(...args)) return;
      clearTimeout(timer);
      socket.off(event, handler as never);
      resolve(args[0]);
    };
    socket.on(event, handler as never);
  });
}
