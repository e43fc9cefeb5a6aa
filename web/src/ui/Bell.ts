import { ProtocolError } from '../../../common/protocol/errors.ts';
import type { NotificationView } from '../../../common/protocol/profiles.ts';
import type { Api } from '../api.ts';
import { h, replace } from '../dom.ts';
import { watchPath } from '../router.ts';
import type { SignalHub } from '../signalHub.ts';
import { Signal } from '../signaling.ts';
import { avatarImage } from './Avatar.ts';

/** Notifications shown in the bell's list. */
const SHOWN = 20;

const describe = (n: NotificationView): string => `${n.actor.displayName ?? n.actor.username} is live: ${n.broadcast.title}`;

/** What the app shell holds of the bell: its button and list (in the header), its pop-up (above the page), and its end. */
export interface BellHandle {
  readonly element: HTMLElement;
  readonly toast: HTMLElement;
  close(): void;
}

/**
 * The header's bell for a signed-in user: a button "Notifications" with the unread count, a
 * list of recent notifications (unread ones marked; a click opens the broadcast and marks it
 * read; "Mark all as read"), and a pop-up "New notification" with a "Watch" link whenever one
 * arrives over the app's socket.io connection (`notification:new`, pushed to every page of the
 * user; no polling). After a reconnection it reads the list again (what came meanwhile).
 */
export function mountBell(o: { api: Api; signals: SignalHub; onError: (err: unknown) => void }): BellHandle {
  let items: NotificationView[] = [];
  let unread = 0;
  let closed = false;

  const count = h('span', { class: 'bell-count', hidden: true });
  const button = h('button', { type: 'button', class: 'bell', 'aria-expanded': 'false', 'aria-haspopup': 'true' }, h('span', { 'aria-hidden': 'true' }, '🔔'), count);
  const list = h('ul', { class: 'bell-list' });
  const empty = h('p', { class: 'empty' }, 'No notifications yet. Follow people to hear when they go live.');
  const markAll = h('button', { type: 'button', class: 'link-button' }, 'Mark all as read');
  const panel = h('section', { class: 'bell-panel', 'aria-label': 'Notifications', hidden: true }, h('h2', {}, 'Notifications'), markAll, list, empty);
  const element = h('span', { class: 'bell-wrap' }, button, panel);
  const toastText = h('span', {});
  const toastLink = h('a', { href: '/' }, 'Watch');
  const toastClose = h('button', { type: 'button', class: 'link-button' }, 'Dismiss');
  const toast = h('div', { class: 'toast', role: 'status', 'aria-label': 'New notification', hidden: true }, toastText, ' ', toastLink, ' ', toastClose);

  const markRead = (ids: string[] | 'all'): void => {
    o.api.markNotificationsRead(ids).then(
      (left) => {
        unread = left;
        items = items.map((n) => (ids === 'all' || ids.includes(n.id) ? { ...n, read: true } : n));
        render();
      },
      (err: unknown) => o.onError(err),
    );
  };

  const render = (): void => {
    count.textContent = String(unread);
    count.hidden = unread === 0;
    button.setAttribute('aria-label', unread === 0 ? 'Notifications' : `Notifications, ${unread} unread`);
    markAll.hidden = unread === 0;
    empty.hidden = items.length > 0;
    replace(
      list,
      ...items.map((n) => {
        const link = h('a', { href: watchPath(n.broadcast.id) }, describe(n));
        link.addEventListener('click', () => {
          panel.hidden = true;
          button.setAttribute('aria-expanded', 'false');
          if (!n.read) markRead([n.id]);
        });
        return h(
          'li',
          { class: n.read ? 'read' : 'unread' },
          avatarImage(n.actor),
          link,
          ' ',
          h('time', { datetime: n.createdAt }, new Date(n.createdAt).toLocaleString()),
          n.read ? null : h('span', { class: 'badge' }, 'New'),
        );
      }),
    );
  };

  const load = (): void => {
    o.api.notifications().then(
      (l) => {
        if (closed) return;
        items = l.notifications.slice(0, SHOWN);
        unread = l.unread;
        render();
      },
      (err: unknown) => {
        // Signed out meanwhile (elsewhere, or the account deleted: its socket reconnects
        // anonymous and asks again): the header drops the bell; nothing to tell.
        if (closed || (err instanceof ProtocolError && err.code === 'UNAUTHENTICATED')) return;
        o.onError(err);
      },
    );
  };

  button.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    button.setAttribute('aria-expanded', panel.hidden ? 'false' : 'true');
  });
  markAll.addEventListener('click', () => markRead('all'));
  toastClose.addEventListener('click', () => {
    toast.hidden = true;
  });
  toastLink.addEventListener('click', () => {
    toast.hidden = true;
    const id = toastLink.dataset['notification'];
    if (id !== undefined) markRead([id]);
  });

  const signal = o.signals.shared(() => Signal.connect());
  const offs = [
    signal.on('notification:new', ({ notification }) => {
      if (closed) return;
      items = [notification, ...items.filter((n) => n.id !== notification.id)].slice(0, SHOWN);
      unread += 1;
      render();
      toastText.textContent = describe(notification);
      toastLink.href = watchPath(notification.broadcast.id);
      toastLink.dataset['notification'] = notification.id;
      toast.hidden = false;
    }),
    signal.onReconnect(load),
  ];
  render();
  load();

  return {
    element,
    toast,
    close: () => {
      closed = true;
      for (const off of offs) off();
    },
  };
}
