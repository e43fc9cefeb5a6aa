import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { BroadcastSummary, UserSummary } from '../../common/protocol/events.ts';
import { ProtocolError } from '../../common/protocol/errors.ts';
import { isBroadcastSummary, isRecord, isUserSummary, isWireError } from './guards.ts';

/** The HTTP JSON API of the signalling process. Errors are thrown as `ProtocolError`. */
export class Api {
  readonly #fetch: typeof fetch;

  /** @param fetchImpl the fetch to use. Default: the window's. */
  constructor(fetchImpl: typeof fetch = (input, init) => fetch(input, init)) {
    this.#fetch = fetchImpl;
  }

  /** The signed-in user, or null when the session cookie is missing or expired. */
  async me(): Promise<UserSummary | null> {
    try {
      const body = await this.#call('GET', '/api/auth/me');
      return readUser(body);
    } catch (err) {
      if (err instanceof ProtocolError && err.code === 'UNAUTHENTICATED') return null;
      throw err;
    }
  }

  async signUp(username: string, password: string): Promise<UserSummary> {
    return readUser(await this.#call('POST', '/api/auth/signup', { username, password }));
  }

  async signIn(username: string, password: string): Promise<UserSummary> {
    return readUser(await this.#call('POST', '/api/auth/signin', { username, password }));
  }

  async signOut(): Promise<void> {
    await this.#call('POST', '/api/auth/signout');
  }

  /** Live broadcasts the caller may see. */
  async listBroadcasts(): Promise<BroadcastSummary[]> {
    const body = await this.#call('GET', '/api/broadcasts');
    const list = isRecord(body) ? body['broadcasts'] : undefined;
    if (!Array.isArray(list)) throw malformed('/api/broadcasts');
    return list.filter(isBroadcastSummary);
  }

  async getBroadcast(id: BroadcastId): Promise<BroadcastSummary> {
    const body = await this.#call('GET', `/api/broadcasts/${encodeURIComponent(id)}`);
    const broadcast = isRecord(body) ? body['broadcast'] : undefined;
    if (!isBroadcastSummary(broadcast)) throw malformed('/api/broadcasts/:id');
    return broadcast;
  }

  async #call(method: 'GET' | 'POST', path: string, json?: unknown): Promise<unknown> {
    const init: RequestInit = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
    if (json !== undefined) {
      init.headers = { accept: 'application/json', 'content-type': 'application/json' };
      init.body = JSON.stringify(json);
    }
    let res: Response;
    try {
      res = await this.#fetch(path, init);
    } catch {
      throw new ProtocolError({ code: 'UNAVAILABLE', message: 'the server cannot be reached' });
    }
    const text = await res.text();
    let body: unknown = undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    if (!res.ok) {
      const error = isRecord(body) ? body['error'] : undefined;
      if (isWireError(error)) throw new ProtocolError(error);
      throw new ProtocolError({
        code: res.status === 401 ? 'UNAUTHENTICATED' : res.status >= 500 ? 'INTERNAL' : 'BAD_REQUEST',
        message: `HTTP ${res.status} ${res.statusText}`.trim(),
      });
    }
    return body;
  }
}

function readUser(body: unknown): UserSummary {
  const user = isRecord(body) ? body['user'] : undefined;
  if (!isUserSummary(user)) throw malformed('/api/auth');
  return user;
}

function malformed(what: string): ProtocolError {
  return new ProtocolError({ code: 'INTERNAL', message: `unexpected response from ${what}` });
}
