import type { Server, Socket } from 'socket.io';
import { AppError, describeZodError, toWireError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import {
  LIMITS,
  RequestSchemas,
  type ClientToServerEvents,
  type Request,
  type RequestName,
  type Responses,
  type ServerToClientEvents,
} from '../../common/protocol/events.ts';
import type { Ack } from '../../common/protocol/errors.ts';
import type { LiveService } from '../live/LiveService.ts';
import type { LiveModeration } from '../moderation/LiveModeration.ts';
import type { Peer } from '../live/Peer.ts';
import type { UserRecord } from '../store/UserStore.ts';

/** What the auth middleware leaves on each socket. */
export interface SocketData {
  user: UserRecord | undefined;
  /** The client's address (see `clientAddress`), set by the connection cap (absent where it is not installed). */
  address?: string;
  /** The id of the session the socket authenticated with (its room is `s:<sessionId>`), if signed in. */
  sessionId?: string | undefined;
}

/**
 * What nodes tell each other through the socket.io adapter (`serverSideEmit`; several nodes
 * only). Each receiver validates the payload (SocketModerationReach).
 */
export interface InterServerEvents {
  /** `userId` was blocked by `ownerId`: remove their connections from the owner's broadcasts. */
  'moderation:evict': (e: { ownerId: string; userId: string }) => void;
  'moderation:end': (e: { broadcastId: string; reason: 'ended-by-admin' | 'account-suspended' }) => void;
}

export type SpyglassServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type SpyglassSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

type Handler<E extends RequestName> = (peer: Peer, req: Request<E>) => Promise<Responses[E]> | Responses[E];

/**
 * The thin socket layer: for every event, parse → call one LiveService or LiveModeration
 * method (which authorises) → ack. The one place where thrown errors become `{ ok: false, error }`.
 */
export class SocketGateway {
  readonly #live: LiveService;
  readonly #log: Logger;
  readonly #handlers: { [E in RequestName]: Handler<E> };

  constructor(io: SpyglassServer, live: LiveService, moderation: LiveModeration, logger: Logger) {
    this.#live = live;
    this.#log = logger;
    this.#handlers = {
      'broadcast:start': (p, r) => live.start(p, r),
      'broadcast:resume': (p, r) => live.resume(p, r),
      'broadcast:stop': (p, r) => live.stop(p, r),
      'broadcast:join': (p, r) => live.join(p, r),
      'broadcast:leave': (p, r) => live.leave(p, r),
      'transport:create': (p, r) => live.createTransport(p, r),
      'transport:connect': (p, r) => live.connectTransport(p, r),
      produce: (p, r) => live.produce(p, r),
      consume: (p, r) => live.consume(p, r),
      'consumer:resume': (p, r) => live.resumeConsumer(p, r),
      'chat:send': (p, r) => live.chat(p, r),
      'heart:send': (p, r) => live.heart(p, r),
      'stats:first-frame': (p, r) => live.firstFrame(p, r),
      'chat:remove': (p, r) => moderation.removeMessage(p, r),
      'chat:slow-mode': (p, r) => moderation.slowMode(p, r),
      'chat:followers-only': (p, r) => moderation.followersOnly(p, r),
      'viewers:list': (p, r) => moderation.viewers(p, r),
      'user:block': (p, r) => moderation.block(p, r),
      'user:unblock': (p, r) => moderation.unblock(p, r),
    };
    io.on('connection', (socket) => this.#onConnection(socket));
  }

  #onConnection(socket: SpyglassSocket): void {
    const user = socket.data.user;
    const peer = this.#live.connect(socket.id, user, socket.data.address ?? socket.handshake.address);
    const log = this.#log.child({ peerId: socket.id, userId: user?.id });
    log.debug('connected');

    socket.onAny((event: string, ...args: unknown[]) => {
      if (Object.hasOwn(RequestSchemas, event)) return;
      const ack = args[args.length - 1];
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- a client's event name is whatever it sent
      const name = String(event).slice(0, 64);
      const error = { code: 'UNKNOWN_EVENT' as const, message: `unknown event "${name}"` };
      log.warn({ event: name }, 'unknown event');
      if (typeof ack === 'function') (ack as (a: Ack<never>) => void)({ ok: false, error });
      else socket.emit('error:dropped', error);
    });

    for (const name of Object.keys(RequestSchemas) as RequestName[]) {
      socket.on(name, (...args: unknown[]) => void this.#dispatch(socket, peer, log, name, args));
    }

    socket.on('disconnect', (reason) => {
      log.debug({ reason }, 'disconnected');
      this.#live.disconnect(socket.id);
    });
  }

  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- E ties the handler, the request and the reply together in the body
  async #dispatch<E extends RequestName>(socket: SpyglassSocket, peer: Peer, log: Logger, name: E, args: unknown[]): Promise<void> {
    const ack = args[args.length - 1];
    const badShape = { code: 'BAD_REQUEST' as const, message: `"${name}" needs one payload and an acknowledgement callback` };
    if (typeof ack !== 'function') {
      log.warn({ event: name }, 'dropped a request without an ack callback');
      socket.emit('error:dropped', badShape);
      return;
    }
    const reply = ack as (res: Ack<Responses[E]>) => void;
    // A client that asked for an answer gets one, even when its arguments are wrong.
    if (args.length !== 2) {
      log.warn({ event: name, args: args.length - 1 }, 'refused a request without exactly one payload');
      reply({ ok: false, error: badShape });
      return;
    }
    try {
      const payload = args[0];
      if (jsonSize(payload) > LIMITS.maxMessageBytes) {
        throw new AppError('PAYLOAD_TOO_LARGE', `payload larger than ${LIMITS.maxMessageBytes} bytes`);
      }
      const parsed = RequestSchemas[name].safeParse(payload);
      if (!parsed.success) throw new AppError('VALIDATION_FAILED', describeZodError(parsed.error));
      const handler = this.#handlers[name] as Handler<E>;
      const data = await handler(peer, parsed.data as Request<E>);
      reply({ ok: true, data });
    } catch (err) {
      const error = toWireError(err);
      if (error.code === 'INTERNAL') log.error({ err, event: name }, 'request failed');
      else log.debug({ event: name, code: error.code }, error.message);
      reply({ ok: false, error });
    }
  }
}

/** Size of a payload as JSON, stopping early once it is clearly too large. */
function jsonSize(value: unknown): number {
  try {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify returns undefined for undefined and functions, whatever its type says
    return Buffer.byteLength(JSON.stringify(value) ?? '');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
