import type { BroadcastSummary } from '../../../common/protocol/events.ts';
import { h, replace } from '../dom.ts';
import { formatLiveFor, formatViewers } from '../format.ts';
import type { PageMount } from '../page.ts';
import { profilePath, watchPath } from '../router.ts';
import { avatarImage } from '../ui/Avatar.ts';

/** How often the list refreshes while the tab is visible. */
const REFRESH_MS = 5_000;
/** Broadcasts per page ("More" loads the next page); the refresh keeps up to MAX_REFRESH loaded. */
const PAGE = 20;
const MAX_REFRESH = 100;

/** `/`: the broadcasts that are live now, refreshed every few seconds. */
export const mountHome: PageMount = (root, ctx) => {
  ctx.setTitle('Live now');
  const list = h('ul', { class: 'broadcast-list', 'aria-busy': 'true' });
  const empty = h('p', { class: 'empty', hidden: true }, 'Nobody is live right now.');
  const intro = h('p', { class: 'lead' });
  const more = h('button', { type: 'button', class: 'button', hidden: true }, 'More');
  const replays = h('p', { class: 'more' }, 'Missed a broadcast? ', h('a', { href: '/replays' }, 'Replays'), ' — broadcasts are recorded, with their chat.');
  // Signed in: the people one follows who are live, first.
  const followingList = h('ul', { class: 'broadcast-list', 'aria-label': 'Following — live now' });
  const followingEmpty = h('p', { class: 'empty', hidden: true }, 'Nobody you follow is live right now.');
  const followingSection = h('section', { class: 'following-live', hidden: true }, h('h2', {}, 'Following — live now'), followingList, followingEmpty);
  const everyoneHeading = h('h2', { hidden: true }, 'Everyone live');
  root.append(h('h1', { tabindex: -1 }, 'Live now'), intro, followingSection, everyoneHeading, list, more, empty, replays);

  const renderIntro = (): void => {
    const user = ctx.session.user;
    replace(
      intro,
      user
        ? h('a', { href: '/live', class: 'button primary' }, 'Start your broadcast')
        : h('span', {}, 'Watch live video from anyone. ', h('a', { href: '/signup' }, 'Create an account'), ' to go live yourself.'),
    );
  };
  renderIntro();
  const offSession = ctx.session.subscribe(renderIntro);

  let disposed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failing = false;
  /** What is shown, and where the next page starts (null: nothing more). */
  let shown: BroadcastSummary[] = [];
  let nextCursor: string | null = null;

  const cards = (broadcasts: readonly BroadcastSummary[]): HTMLLIElement[] => {
    const now = Date.now();
    return broadcasts.map((b) =>
        h(
          'li',
          { class: 'broadcast-card' },
          h('a', { href: watchPath(b.id), class: 'broadcast-title' }, b.title),
          h(
            'p',
            { class: 'broadcast-meta' },
            avatarImage(b.owner),
            h('a', { href: profilePath(b.owner.username), class: 'owner' }, b.owner.username),
            ' · ',
            h('span', {}, formatViewers(b.viewerCount)),
            ' · ',
            h('span', {}, formatLiveFor(b.startedAt, now)),
            b.visibility === 'private' ? h('span', { class: 'badge' }, 'Private') : null,
            b.status === 'reconnecting' ? h('span', { class: 'badge warn' }, 'Reconnecting…') : null,
          ),
        ),
      );
  };

  const renderFollowing = (broadcasts: readonly BroadcastSummary[] | null): void => {
    followingSection.hidden = broadcasts === null;
    everyoneHeading.hidden = broadcasts === null;
    replace(followingList, ...cards(broadcasts ?? []));
    followingEmpty.hidden = (broadcasts ?? []).length > 0;
  };

  const renderList = (broadcasts: readonly BroadcastSummary[]): void => {
    replace(list, ...cards(broadcasts));
    list.setAttribute('aria-busy', 'false');
    empty.hidden = broadcasts.length > 0;
    more.hidden = nextCursor === null;
  };

  const refresh = async (): Promise<void> => {
    if (disposed) return;
    if (document.visibilityState !== 'hidden') {
      try {
        // As many as are shown (pages loaded with "More" stay loaded), up to MAX_REFRESH; and,
        // signed in, the people one follows who are live.
        const [page, followed] = await Promise.all([
          ctx.api.listBroadcasts({ limit: Math.min(MAX_REFRESH, Math.max(PAGE, shown.length)) }),
          // A failure here (a session that ended elsewhere) hides the section, never the list.
          ctx.session.user ? ctx.api.listBroadcasts({ limit: PAGE, following: true }).catch(() => null) : Promise.resolve(null),
        ]);
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
        if (disposed) return;
        failing = false;
        shown = page.broadcasts.filter((b) => b.status !== 'ended');
        nextCursor = page.nextCursor;
        renderList(shown);
        renderFollowing(followed ? followed.broadcasts.filter((b) => b.status !== 'ended') : null);
        // Someone is live: load the watch page's code and open the connection its join uses now,
        // not after the click.
        if (shown.length > 0) ctx.prepare('watch');
      } catch (err) {
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
        if (disposed) return;
        // Report the first failure of a streak, not one per poll.
        if (!failing) ctx.alerts.show(err);
        failing = true;
      }
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
    if (!disposed) timer = setTimeout(() => void refresh(), REFRESH_MS);
  };
  // Once the tab knows who is signed in: the first list then has "Following — live now" too.
  void ctx.sessionReady.then(refresh);

  more.addEventListener('click', () => {
    if (nextCursor === null) return;
    more.disabled = true;
    ctx.api
      .listBroadcasts({ limit: PAGE, cursor: nextCursor })
      .then(
        (page) => {
          if (disposed) return;
          const known = new Set(shown.map((b) => b.id));
          shown = shown.concat(page.broadcasts.filter((b) => b.status !== 'ended' && !known.has(b.id)));
          nextCursor = page.nextCursor;
          renderList(shown);
        },
        (err: unknown) => ctx.alerts.show(err),
      )
      .finally(() => {
        more.disabled = false;
      });
  });

  const onVisible = (): void => {
    if (document.visibilityState === 'visible') {
      clearTimeout(timer);
      void refresh();
    }
  };
  document.addEventListener('visibilitychange', onVisible);

  return () => {
    disposed = true;
    clearTimeout(timer);
    offSession();
    document.removeEventListener('visibilitychange', onVisible);
  };
};
