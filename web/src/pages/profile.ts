import type { Profile } from '../../../common/protocol/profiles.ts';
import { ProtocolError } from '../../../common/protocol/errors.ts';
import { h, replace } from '../dom.ts';
import type { PageMount } from '../page.ts';
import { watchPath } from '../router.ts';
import { FollowButton } from '../ui/FollowButton.ts';
import { FollowListPanel } from '../ui/FollowListPanel.ts';
import { mountNotFound } from './notFound.ts';
import { card } from './replays.ts';

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/**
 * `/u/:username`: a person's profile — avatar, display name, bio, joined date, follower and
 * following counts, a Follow button, "Live now" with a link while they are live (and the
 * caller may watch), and their replays (public ones; private ones to the owner and invitees),
 * newest first, a page at a time. An unknown or deleted account is the not-found page.
 */
export function profilePage(username: string): PageMount {
  return (root, ctx) => {
    ctx.setTitle(username);
    let disposed = false;
    let cleanupNotFound: (() => void) | undefined;
    const heading = h('h1', { tabindex: -1 }, username);
    const handle = h('p', { class: 'handle' }, `@${username}`);
    const avatar = h('img', { class: 'avatar large', alt: `Avatar of ${username}`, width: 128, height: 128, hidden: true });
    const bio = h('p', { class: 'bio' });
    const joined = h('p', { class: 'broadcast-meta' });
    const followers = h('span', { class: 'followers' });
    const following = h('span', { class: 'following' });
    const counts = h('p', { class: 'counts' }, followers, ' · ', following);
    const live = h('p', { class: 'live-now' });
    const follow = new FollowButton({
      api: ctx.api,
      session: ctx.session,
      onError: (err) => ctx.alerts.show(err),
      onChange: (n) => {
        followers.textContent = plural(n, 'follower', 'followers');
      },
    });
    const edit = h('p', { hidden: true }, h('a', { href: '/account' }, 'Edit your profile'));
    // Who follows them and whom they follow, with avatars (loaded when shown).
    const followerList = new FollowListPanel({ api: ctx.api, username, side: 'followers', onError: (err) => ctx.alerts.show(err) });
    const followingList = new FollowListPanel({ api: ctx.api, username, side: 'following', onError: (err) => ctx.alerts.show(err) });
    const list = h('ul', { class: 'replay-list', 'aria-busy': 'true' });
    const empty = h('p', { class: 'empty', hidden: true }, 'No replays yet.');
    const more = h('button', { type: 'button', class: 'button', hidden: true }, 'More replays');
    const body = h(
      'section',
      { class: 'profile' },
      h('div', { class: 'profile-head' }, avatar, h('div', {}, heading, handle, counts, follow.element, h('div', { class: 'people' }, followerList.element, followingList.element))),
      bio,
      joined,
      live,
      edit,
      h('section', { 'aria-labelledby': 'profile-replays' }, h('h2', { id: 'profile-replays' }, 'Replays'), list, empty, more),
    );
    root.append(body);

    let profile: Profile | undefined;
    let cursor: string | null = null;
    const render = (p: Profile): void => {
      profile = p;
      const name = p.displayName ?? p.username;
      heading.textContent = name;
      ctx.setTitle(name);
      handle.textContent = `@${p.username}`;
      avatar.src = p.avatarUrl;
      avatar.hidden = false;
      bio.textContent = p.bio;
      bio.hidden = p.bio === '';
      joined.textContent = `Joined ${new Date(p.joinedAt).toLocaleDateString(undefined, { year: 'numeric', month: 'long', day: 'numeric' })}`;
      followers.textContent = plural(p.followers, 'follower', 'followers');
      following.textContent = `${p.following} following`;
      replace(live, p.live ? h('span', {}, h('span', { class: 'badge live' }, 'Live now'), ' ', h('a', { href: watchPath(p.live.id) }, p.live.title)) : null);
      follow.show(p.username, p.followedByYou);
      edit.hidden = ctx.session.user?.id !== p.id;
    };

    const loadReplays = async (): Promise<void> => {
      more.disabled = true;
      try {
        const page = await ctx.api.profileReplays(username, cursor);
        if (disposed) return;
        list.append(...page.replays.map(card));
        cursor = page.nextCursor;
        list.setAttribute('aria-busy', 'false');
        empty.hidden = list.childElementCount > 0;
        more.hidden = cursor === null;
      } catch (err) {
        if (!disposed) ctx.alerts.show(err);
      } finally {
        more.disabled = false;
      }
    };
    more.addEventListener('click', () => void loadReplays());

    const load = async (): Promise<void> => {
      try {
        const p = await ctx.api.getProfile(username);
        if (disposed) return;
        render(p);
        await loadReplays();
      } catch (err) {
        if (disposed) return;
        if (err instanceof ProtocolError && err.code === 'NOT_FOUND') {
          root.replaceChildren();
          cleanupNotFound = mountNotFound(root, ctx);
        } else {
          ctx.alerts.show(err);
        }
      }
    };
    void ctx.sessionReady.then(load);
    // Signing in or out changes the Follow button (and what the profile shows).
    const offSession = ctx.session.subscribe(() => {
      if (profile) {
        void ctx.api.getProfile(username).then(
          (p) => {
            if (!disposed) render(p);
          },
          () => undefined,
        );
      }
    });

    return () => {
      disposed = true;
      offSession();
      cleanupNotFound?.();
    };
  };
}
