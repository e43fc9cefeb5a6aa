import type { UserSummary } from '../../common/protocol/events.ts';

type Listener = (user: UserSummary | null) => void;

/** Who is signed in, as far as this tab knows. The httpOnly cookie is the real session. */
export class Session {
  #user: UserSummary | null = null;
  readonly #listeners = new Set<Listener>();

  get user(): UserSummary | null {
    return this.#user;
  }

  set(user: UserSummary | null): void {
    if (user?.id === this.#user?.id && user?.username === this.#user?.username) return;
    this.#user = user;
    for (const listener of this.#listeners) listener(user);
  }

  /** Calls `listener` on every change; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
