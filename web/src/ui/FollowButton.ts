import type { Api } from '../api.ts';
import { h, replace } from '../dom.ts';
import type { Session } from '../session.ts';

/**
 * Follow / Unfollow a user, on profiles and watch pages: a button named "Follow <username>" or
 * "Unfollow <username>" (aria-pressed says which) for someone else signed in, the link "Sign in
 * to follow" (back to this page) when signed out, nothing on one's own profile.
 */
export class FollowButton {
  readonly element: HTMLSpanElement;
  readonly #o: { api: Api; session: Session; onError: (err: unknown) => void; onChange?: (followers: number, following: boolean) => void };
  #username: string | null = null;
  #following = false;

  constructor(o: { api: Api; session: Session; onError: (err: unknown) => void; onChange?: (followers: number, following: boolean) => void }) {
    this.#o = o;
    this.element = h('span', { class: 'follow' });
  }

  /** Shows the control for `username`, whom the caller follows or not (`null`: signed out, or themselves). */
  show(username: string, followedByYou: boolean | null): void {
    this.#username = username;
    this.#following = followedByYou === true;
    this.#render();
  }

  #render(): void {
    const username = this.#username;
    const me = this.#o.session.user;
    if (username === null || me?.username.toLowerCase() === username.toLowerCase()) {
      this.element.replaceChildren();
      return;
    }
    if (!me) {
      replace(this.element, h('a', { href: `/signin?next=${encodeURIComponent(location.pathname)}`, class: 'button' }, 'Sign in to follow'));
      return;
    }
    const button = h(
      'button',
      { type: 'button', class: this.#following ? 'button' : 'button primary', 'aria-pressed': this.#following ? 'true' : 'false' },
      `${this.#following ? 'Unfollow' : 'Follow'} ${username}`,
    );
    button.addEventListener('click', () => {
      button.disabled = true;
      this.#o.api.setFollowing(username, !this.#following).then(
        (state) => {
          this.#following = state.following;
          this.#render();
          this.#o.onChange?.(state.followers, state.following);
        },
        (err: unknown) => {
          button.disabled = false;
          this.#o.onError(err);
        },
      );
    });
    replace(this.element, button);
  }
}
