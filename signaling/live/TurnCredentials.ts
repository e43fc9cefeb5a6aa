import { createHmac, randomBytes } from 'node:crypto';
import type { Config } from '../../common/config.ts';
import { AppError } from '../../common/errors.ts';
import type { TransportOptions } from '../../common/protocol/media.ts';

/**
 * Time-limited TURN credentials in the "TURN REST API" scheme (draft-uberti-behave-turn-rest),
 * which coturn checks with `use-auth-secret` and `static-auth-secret`:
 *
 *   username   = `<expiry, Unix seconds>:<opaque id>`
 *   credential = base64(HMAC-SHA1(secret, username))
 *
 * The TURN server shares the secret with the nodes, recomputes the HMAC and refuses a username
 * whose expiry has passed for a new allocation (coturn 4.6 keeps refreshing one made before).
 * Nothing is stored and no request goes to the TURN server: node:crypto's HMAC is all it
 * takes, no library. The id is random for every grant, so a username names no user and two grants cannot
 * be linked by it. Credentials are handed only to a client whose transport was just created for
 * it (LiveService authorises it first), and never logged.
 */
export class TurnCredentials {
  readonly #urls: string[];
  readonly #secret: string;
  readonly #ttlSeconds: number;
  readonly #forceRelay: boolean;
  readonly #clock: () => number;

  /** `clock`: milliseconds since the epoch (the TURN server compares the expiry with its own wall clock). */
  constructor(o: { urls: readonly string[]; secret: string; ttlSeconds: number; forceRelay: boolean; clock?: () => number }) {
    if (o.urls.length === 0) throw new AppError('BAD_REQUEST', 'turn: at least one TURN URL is needed');
    if (o.secret === '') throw new AppError('BAD_REQUEST', 'turn: the shared secret is empty');
    if (!(Number.isInteger(o.ttlSeconds) && o.ttlSeconds > 0)) throw new AppError('BAD_REQUEST', `turn: credential lifetime ${o.ttlSeconds} s is not a positive whole number`);
    this.#urls = [...o.urls];
    this.#secret = o.secret;
    this.#ttlSeconds = o.ttlSeconds;
    this.#forceRelay = o.forceRelay;
    this.#clock = o.clock ?? Date.now;
  }

  /** The node's TURN settings, or undefined when it has none (`turn.urls` empty). */
  static fromConfig(turn: Config['turn']): TurnCredentials | undefined {
    if (turn.urls.length === 0 || turn.secret === undefined) return undefined;
    return new TurnCredentials({ urls: turn.urls, secret: turn.secret, ttlSeconds: turn.credentialTtlSeconds, forceRelay: turn.forceRelay });
  }

  /** base64(HMAC-SHA1(secret, username)): the password a TURN server with `static-auth-secret` expects. */
  static credentialFor(secret: string, username: string): string {
    return createHmac('sha1', secret).update(username).digest('base64');
  }

  /** What a new transport's answer carries: the TURN servers with fresh credentials (and the relay-only policy when forced). */
  grant(): Pick<TransportOptions, 'iceServers' | 'iceTransportPolicy'> {
    const expiry = Math.floor(this.#clock() / 1000) + this.#ttlSeconds;
    const username = `${expiry}:${randomBytes(12).toString('base64url')}`;
    const iceServers = [{ urls: [...this.#urls], username, credential: TurnCredentials.credentialFor(this.#secret, username) }];
    return this.#forceRelay ? { iceServers, iceTransportPolicy: 'relay' } : { iceServers };
  }
}
