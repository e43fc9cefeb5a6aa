import type { Api } from '../api.ts';
import { h } from '../dom.ts';
import { profilePath } from '../router.ts';
import { avatarImage } from './Avatar.ts';

/**
 * A profile's followers or the people it follows, behind a button ("Show followers" /
 * "Show following", `aria-expanded`): a list named "Followers of <username>" or "Followed by
 * <username>", one item per person (their avatar and name, a link to their profile), newest
 * follow first, a page at a time ("More"). Loaded when first shown; reloaded when shown again.
 */
export class FollowListPanel {
  readonly element: HTMLDivElement;
  readonly #o: { api: Api; username: string; side: 'followers' | 'following'; onError: (err: unknown) => void };
  readonly #toggle: HTMLButtonElement;
  readonly #list: HTMLUListElement;
  readonly #more: HTMLButtonElement;
  #cursor: string | null = null;
  #loading = false;

  constructor(o: { api: Api; username: string; side: 'followers' | 'following'; onError: (err: unknown) => void }) {
    this.#o = o;
    const label = o.side === 'followers' ? 'followers' : 'following';
    this.#toggle = h('button', { type: 'button', class: 'small', 'aria-expanded': 'false' }, `Show ${label}`);
    this.#list = h('ul', { class: 'people-list', 'aria-label': o.side === 'followers' ? `Followers of ${o.username}` : `Followed by ${o.username}`, hidden: true });
    this.#more = h('button', { type: 'button', class: 'small', hidden: true }, 'More');
    this.element = h('div', { class: 'follow-list' }, this.#toggle, this.#list, this.#more);
    this.#toggle.addEventListener('click', () => {
      const show = this.#list.hidden;
      this.#list.hidden = !show;
      this.#toggle.setAttribute('aria-expanded', String(show));
      this.#toggle.textContent = `${show ? 'Hide' : 'Show'} ${label}`;
      if (show) {
        this.#list.replaceChildren();
        this.#cursor = null;
        void this.#load();
      } else {
        this.#more.hidden = true;
      }
    });
    this.#more.addEventListener('click', () => void this.#load());
  }

  async #load(): Promise<void> {
    if (this.#loading) return;
    this.#loading = true;
    this.#more.disabled = true;
    try {
      const page = await this.#o.api.followList(this.#o.username, this.#o.side, this.#cursor);
      this.#list.append(
        ...page.people.map((p) => h('li', {}, avatarImage(p), h('a', { href: profilePath(p.username) }, p.displayName ?? p.username), p.displayName ? h('span', { class: 'handle' }, ` @${p.username}`) : null)),
      );
      if (this.#list.childElementCount === 0) this.#list.append(h('li', { class: 'empty' }, this.#o.side === 'followers' ? 'No followers yet.' : 'Not following anyone yet.'));
      this.#cursor = page.nextCursor;
      this.#more.hidden = this.#list.hidden || page.nextCursor === null;
    } catch (err) {
      this.#o.onError(err);
    } finally {
      this.#loading = false;
      this.#more.disabled = false;
    }
  }
}
