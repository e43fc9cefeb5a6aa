import type { ReplaySummary } from '../../../common/protocol/replays.ts';
import { h, replace, uid } from '../dom.ts';
import { formatDuration, replayStateText } from '../format.ts';
import type { PageMount } from '../page.ts';
import { replayPath } from '../router.ts';

/** How often the lists refresh while one of them has a replay still recording or processing. */
const REFRESH_MS = 5_000;

/** A section with a heading, a list of replay cards and an empty-state text. */
function section(title: string, emptyText: string): { element: HTMLElement; render: (replays: readonly ReplaySummary[]) => void } {
  const headingId = uid('replays');
  const list = h('ul', { class: 'replay-list', 'aria-busy': 'true' });
  const empty = h('p', { class: 'empty', hidden: true }, emptyText);
  const element = h('section', { class: 'replay-section', 'aria-labelledby': headingId }, h('h2', { id: headingId }, title), list, empty);
  return {
    element,
    render: (replays) => {
      replace(list, ...replays.map(card));
      list.setAttribute('aria-busy', 'false');
      empty.hidden = replays.length > 0;
    },
  };
}

/**
 * One replay: a link (poster thumbnail with alt = title, and the title) to `/replay/:id`,
 * then owner, duration and a badge unless it is ready. The whole card is clickable.
 */
export function card(r: ReplaySummary): HTMLLIElement {
  // The list shape has no `reason`; show it when the server sends one anyway.
  const raw: unknown = (r as unknown as Record<string, unknown>)['reason'];
  const badge = replayStateText(r.state, typeof raw === 'string' ? raw : null);
  const duration = formatDuration(r.durationMs);
  const thumb =
    r.posterUrl !== null
      ? h('img', { src: r.posterUrl, alt: r.title, class: 'replay-thumb', loading: 'lazy', decoding: 'async', width: 320, height: 180 })
      : h('span', { class: 'replay-thumb placeholder', 'aria-hidden': 'true' });
  return h(
    'li',
    { class: 'replay-card' },
    h(
      'a',
      { href: replayPath(r.id), class: 'replay-link' },
      thumb,
      // With a poster, the image's alt already names the link.
      h('span', { class: 'replay-title', 'aria-hidden': r.posterUrl !== null ? 'true' : null }, r.title),
    ),
    h(
      'p',
      { class: 'broadcast-meta' },
      h('span', { class: 'owner' }, r.owner.username),
      duration ? ` · ${duration}` : null,
      r.visibility === 'private' ? h('span', { class: 'badge' }, 'Private') : null,
      badge !== null ? h('span', { class: `badge state-${r.state}${r.state === 'failed' ? ' warn' : ''}` }, badge) : null,
    ),
  );
}

/** `/replays`: the signed-in user's replays ("Your replays") and the public ones ("Public replays"). */
export const mountReplays: PageMount = (root, ctx) => {
  ctx.setTitle('Replays');
  const mine = section('Your replays', 'You have no replays yet. Go live, and your broadcast is recorded here.');
  const pub = section('Public replays', 'No public replays yet.');
  const mineSlot = h('div', {});
  root.append(h('h1', { tabindex: -1 }, 'Replays'), h('p', { class: 'lead' }, 'Broadcasts that have ended, with their chat.'), mineSlot, pub.element);

  let disposed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failing = false;

  const unsettled = (list: readonly ReplaySummary[]): boolean => list.some((r) => r.state === 'recording' || r.state === 'processing');

  let token = 0;
  const refresh = async (): Promise<void> => {
    if (disposed) return;
    const mineToo = ctx.session.user !== null;
    // The "Your replays" heading shows as soon as we know someone is signed in.
    if (!mineToo) mineSlot.replaceChildren();
    else if (!mineSlot.contains(mine.element)) mineSlot.replaceChildren(mine.element);
    const my = ++token;
    clearTimeout(timer);
    let again = false;
    try {
      const [own, shared] = await Promise.all([mineToo ? ctx.api.listReplays('mine') : Promise.resolve([]), ctx.api.listReplays('public')]);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
      if (disposed || my !== token) return;
      if (failing) ctx.alerts.clear();
      failing = false;
      if (mineToo) mine.render(own);
      pub.render(shared);
      again = unsettled(own) || unsettled(shared);
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
      if (disposed || my !== token) return;
      // Report the first failure of a streak, not one per retry.
      if (!failing) ctx.alerts.show(err);
      failing = true;
      again = true;
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
    if (!disposed && again) timer = setTimeout(() => void refresh(), REFRESH_MS);
  };
  void ctx.sessionReady.then(refresh);
  // Signing in or out elsewhere in the tab changes what "Your replays" shows.
  const offSession = ctx.session.subscribe(() => void refresh());

  return () => {
    disposed = true;
    clearTimeout(timer);
    offSession();
  };
};
