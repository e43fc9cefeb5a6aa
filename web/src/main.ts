import { Api } from './api.ts';
import { h, replace } from './dom.ts';
import type { Cleanup, PageContext, PageMount } from './page.ts';
import { mountSignIn, mountSignUp } from './pages/auth.ts';
import { mountHome } from './pages/home.ts';
import { mountNotFound } from './pages/notFound.ts';
import { matchRoute, shouldIntercept, type Route } from './router.ts';
import { Session } from './session.ts';
import { SignalHub } from './signalHub.ts';
import { mountSunsetBanner } from './sunset.ts';
import { Alerts } from './ui/Alerts.ts';
import type { BellHandle } from './ui/Bell.ts';

/**
 * The app shell and composition root: header with navigation, the alert region, the
 * router. The live and watch pages (with socket.io-client and mediasoup-client) and the
 * replay pages (hls.js, itself loaded only where needed) load on demand, so the home page
 * stays small.
 */

const api = new Api();
const session = new Session();
const alerts = new Alerts();
const signals = new SignalHub();
const sessionReady = api
  .me()
  .then((user) => session.set(user))
  .catch(() => session.set(null));
// Signing in or out changes the cookie; the shared connection reads it at its handshake.
void sessionReady.then(() => session.subscribe(() => signals.renew()));

// ---------------------------------------------------------------- layout --
const nav = h('nav', { 'aria-label': 'Main' });
const header = h('header', { class: 'site-header' }, h('a', { href: '/', class: 'brand' }, h('span', { class: 'brand-dot', 'aria-hidden': 'true' }), 'Spyglass'), nav);
const outlet = h('div', { class: 'page' });
// New notifications pop up here, on every page (ui/Bell.ts).
const toastSlot = h('div', { class: 'toast-slot' });
const main = h('main', { id: 'main' }, toastSlot, alerts.element, outlet);
const app = document.getElementById('app') ?? document.body;
// The sunset banner (docs/sunset.md): hidden unless the service is closing down.
const sunsetBanner = mountSunsetBanner({ archive: () => sessionReady.then(() => (session.user ? api.latestArchive() : null)) });
app.replaceChildren(header, sunsetBanner.element, main);

function renderNav(): void {
  const user = session.user;
  const here = location.pathname;
  const link = (href: string, text: string): HTMLAnchorElement =>
    h('a', { href, 'aria-current': here === href ? 'page' : null }, text);
  const signOut = h('button', { type: 'button', class: 'link-button' }, 'Sign out');
  signOut.addEventListener('click', () => {
    signOut.disabled = true;
    api
      .signOut()
      .catch((err: unknown) => alerts.show(err))
      .finally(() => {
        session.set(null);
        navigate('/');
      });
  });
  replace(
    nav,
    h(
      'ul',
      {},
      h('li', {}, link('/', 'Live now')),
      h('li', {}, link('/live', 'Go live')),
      ...(user
        ? [...(bell ? [h('li', { class: 'bell-item' }, bell.element)] : []), h('li', { class: 'user' }, h('a', { href: '/account', class: 'username', title: 'Your account', 'aria-current': here === '/account' ? 'page' : null }, user.username)), h('li', {}, signOut)]
        : [h('li', {}, link('/signin', 'Sign in')), h('li', {}, link('/signup', 'Sign up'))]),
    ),
  );
}
session.subscribe(renderNav);

// The bell (notifications, pushed over socket.io) for a signed-in user, on every page. Its
// chunk brings socket.io-client, so a signed-out visitor's pages load without it.
let bell: BellHandle | null = null;
let bellLoading = false;
function syncBell(): void {
  if (session.user && !bell && !bellLoading) {
    bellLoading = true;
    import('./ui/Bell.ts').then(
      (m) => {
        bellLoading = false;
        if (!session.user || bell) return;
        bell = m.mountBell({ api, signals, onError: (err) => alerts.show(err) });
        toastSlot.replaceChildren(bell.toast);
        renderNav();
      },
      () => {
        bellLoading = false;
      },
    );
  } else if (!session.user && bell) {
    bell.close();
    bell = null;
    toastSlot.replaceChildren();
    renderNav();
  }
}
void sessionReady.then(() => {
  syncBell();
  session.subscribe(syncBell);
});

// ---------------------------------------------------------------- router --
let cleanup: Cleanup | null = null;
let renderToken = 0;
let firstRender = true;

let watchPrepared = false;
const ctx: PageContext = {
  api,
  session,
  alerts,
  signals,
  sessionReady: sessionReady.then(() => undefined),
  navigate,
  prepare: () => {
    // The watch page is the only one prepared so far.
    if (watchPrepared) return;
    watchPrepared = true;
    import('./pages/watch.ts').then(
      (m) => m.prepareWatch(ctx),
      () => {
        watchPrepared = false; // offline, or a deploy replaced the chunk: the click will tell
      },
    );
  },
  setTitle: (title) => {
    document.title = `${title} · Spyglass`;
  },
};

async function pageFor(route: Route): Promise<PageMount> {
  switch (route.name) {
    case 'home':
      return mountHome;
    case 'signup':
      return mountSignUp;
    case 'signin':
      return mountSignIn;
    case 'live':
      return (await import('./pages/live.ts')).mountLive;
    case 'watch':
      return (await import('./pages/watch.ts')).watchPage(route.id);
    case 'replays':
      return (await import('./pages/replays.ts')).mountReplays;
    case 'replay':
      return (await import('./pages/replay.ts')).replayPage(route.id);
    case 'account':
      return (await import('./pages/account.ts')).mountAccount;
    case 'admin':
      return (await import('./pages/admin.ts')).mountAdmin;
    case 'profile':
      return (await import('./pages/profile.ts')).profilePage(route.username);
    case 'not-found':
      return mountNotFound;
  }
}

async function render(): Promise<void> {
  const token = ++renderToken;
  cleanup?.();
  cleanup = null;
  alerts.clear();
  renderNav();
  let mount: PageMount;
  try {
    mount = await pageFor(matchRoute(location.pathname));
  } catch (err) {
    // A chunk failed to load (offline, or a deploy replaced it): a full load fixes the latter.
    if (token === renderToken) alerts.show(err);
    return;
  }
  if (token !== renderToken) return;
  outlet.replaceChildren();
  cleanup = mount(outlet, ctx);
  if (!firstRender) {
    // Move focus to the new page's heading so screen readers announce the navigation.
    outlet.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
  firstRender = false;
}

function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  void render();
}

document.addEventListener('click', (event) => {
  if (event.defaultPrevented || !(event.target instanceof Element)) return;
  const anchor = event.target.closest('a');
  if (!anchor || !anchor.hasAttribute('href')) return;
  const path = shouldIntercept(anchor.href, location.origin, location.pathname, event, {
    target: anchor.target,
    download: anchor.hasAttribute('download'),
  });
  if (path === null) return;
  event.preventDefault();
  if (path !== location.pathname + location.search + location.hash) navigate(path);
});
window.addEventListener('popstate', () => void render());
// Closing or reloading the tab ends the page like a navigation would: a broadcaster's
// broadcast stops (its camera goes away with the tab), a viewer leaves.
window.addEventListener('pagehide', () => {
  cleanup?.();
  cleanup = null;
});
// Back from the back/forward cache: the page was cleaned up on the way out, mount it again.
window.addEventListener('pageshow', (event) => {
  if (event.persisted) void render();
});

void render();
