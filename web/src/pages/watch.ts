import type { BroadcastId } from '../../../common/protocol/ids.ts';
import type { BroadcastSummary, EndReason, Responses } from '../../../common/protocol/events.ts';
import { ProtocolError } from '../../../common/protocol/errors.ts';
import { h, replace } from '../dom.ts';
import { formatLiveFor } from '../format.ts';
import { isJoinRedirect } from '../guards.ts';
import { lastRecvCapabilities, subscribe, type SubscribeOptions, type Subscription } from '../media.ts';
import type { PageContext, PageMount } from '../page.ts';
import { profilePath, replayPath } from '../router.ts';
import { Signal } from '../signaling.ts';
import { ChatPanel } from '../ui/ChatPanel.ts';
import { FollowButton } from '../ui/FollowButton.ts';
import { ReportForm } from '../ui/ReportForm.ts';
import { Hearts } from '../ui/Hearts.ts';
import { ViewerCount } from '../ui/ViewerCount.ts';

type State = 'joining' | 'live' | 'reconnecting' | 'ended' | 'unavailable';

const END_TEXT: Record<EndReason, string> = {
  stopped: 'The broadcaster ended the broadcast.',
  'broadcaster-left': 'The broadcaster left.',
  'server-shutdown': 'The server is shutting down.',
  'recording-unavailable': 'The broadcast could not be recorded, so it ended.',
  'service-closing': 'Spyglass is closing down and is now read-only, so the broadcast ended. Its replay will be available.',
  'no-media': 'The broadcast ended because no video or sound arrived from the broadcaster.',
  'ended-by-admin': 'An admin ended this broadcast.',
  'account-suspended': 'An admin ended this broadcast and suspended the broadcaster’s account.',
};

/** A join's answer, and what of it `subscribe` takes. */
interface Joined {
  res: Responses['broadcast:join'];
  media: Pick<SubscribeOptions, 'transport' | 'consumers'>;
}

/**
 * `broadcast:join` asking for the receive transport, and, once this tab has loaded a Device,
 * for the consumers too (with that Device's capabilities): the join is then the only round
 * trip before the media's own.
 */
async function askJoin(signal: Signal, broadcastId: BroadcastId, redirected: boolean): Promise<Joined> {
  const device = lastRecvCapabilities();
  const res = await signal.request('broadcast:join', {
    broadcastId,
    redirected,
    transport: true,
    ...(device === undefined ? {} : { rtpCapabilities: device.rtpCapabilities }),
  });
  return {
    res,
    media: {
      transport: res.transport,
      consumers: res.consumers === undefined || device === undefined ? undefined : { offers: res.consumers, deviceKey: device.key },
    },
  };
}

/** How long a move to another node (`broadcast:move`) may take to bring media before it is given up. */
const MOVE_TIMEOUT_MS = 8000;

/** Join errors that retrying will not fix. */
const FATAL_JOIN: ReadonlySet<string> = new Set(['NOT_FOUND', 'FORBIDDEN', 'UNAUTHENTICATED', 'BAD_REQUEST', 'VALIDATION_FAILED']);

/** Opens the app's shared connection, which the watch page joins on (see `PageContext.prepare`). */
export function prepareWatch(ctx: PageContext): void {
  ctx.signals.shared(() => Signal.connect());
}

/** `/watch/:id`: the live video with sound, chat, hearts and the viewer count. */
export function watchPage(broadcastId: BroadcastId): PageMount {
  return (root, ctx) => {
    // The page's own origin first, on the app's shared connection (opened already when the home
    // page listed someone live); a loaded node may send the join to another node (REDIRECT),
    // on a connection of this page's own.
    const shared = (): Signal => ctx.signals.shared(() => Signal.connect());
    let signal = shared();
    // The join goes out before the page is built: its answer is the first thing the page waits for.
    const mountedAt = performance.now();
    let early: Promise<Joined> | undefined = askJoin(signal, broadcastId, false);
    early.catch(() => undefined); // handled where join() awaits it
    ctx.setTitle('Watch');
    let disposed = false;
    let state: State = 'joining';
    let subscription: Subscription | null = null;
    let joinedOnce = false;
    // Set once the page followed a redirect: every later join asks to be served where it lands
    // (so redirects never loop), and a node that cannot be reached sends the page home.
    let redirected = false;
    let away = false;
    let offs: Array<() => void> = [];

    // --------------------------------------------------------------- view --
    const heading = h('h1', { tabindex: -1 }, 'Loading broadcast…');
    const meta = h('p', { class: 'broadcast-meta' });
    const follow = new FollowButton({ api: ctx.api, session: ctx.session, onError: (err) => ctx.alerts.show(err), onChange: (_n, now) => followed(now) });
    /** Followed or unfollowed from either button: both say so, and the chat box follows. */
    const followed = (now: boolean): void => {
      following = now;
      if (followShownFor !== undefined) {
        follow.show(followShownFor, now);
        followToChat.show(followShownFor, now);
      }
      showCanChat();
    };
    let followShownFor: string | undefined;
    const video = h('video', { autoplay: true, playsinline: true, 'aria-label': 'Live video', class: 'video' });
    const unmute = h('button', { type: 'button', class: 'unmute', hidden: true }, 'Unmute');
    const overlay = h('div', { class: 'stage-overlay', hidden: true });
    const hearts = new Hearts();
    const stage = h('div', { class: 'stage' }, video, overlay, hearts.layer, unmute);
    const stateStatus = h('div', { role: 'status', 'aria-live': 'polite', class: 'broadcast-state' });
    const viewers = new ViewerCount(0);
    const heartButton = h('button', { type: 'button', class: 'heart-button' }, h('span', { 'aria-hidden': 'true' }, '♥ '), 'Send a heart');
    // Followers-only chat: whether it is on (the join and `chat:settings`), and whether this
    // viewer follows the broadcaster (their profile, then this page's Follow buttons).
    let followersOnly = false;
    let following: boolean | null = null;
    const followToChat = new FollowButton({ api: ctx.api, session: ctx.session, onError: (err) => ctx.alerts.show(err), onChange: (_n, now) => followed(now) });
    const gateText = h('p', {}, 'Only followers of the broadcaster can chat.');
    const chat = new ChatPanel({
      send: async (text) => (await signal.request('chat:send', { broadcastId, text })).message,
      onError: (err) => ctx.alerts.show(err),
      // Back to this broadcast after signing in (auth.ts keeps only same-site paths).
      signInHref: `/signin?next=${encodeURIComponent(`/watch/${broadcastId}`)}`,
      report: { api: ctx.api, me: () => ctx.session.user?.id ?? null },
      gate: h('div', {}, gateText, followToChat.element),
    });
    /** The chat box, or (followers-only, not a follower, not the broadcaster) the Follow button in its place. */
    const showCanChat = (): void => {
      const me = ctx.session.user;
      chat.setCanChat(!followersOnly || me === null || me.id === ownerId || following !== false);
    };
    // Signed-in viewers who are not the broadcaster may report it (docs/moderation.md).
    const report = new ReportForm({ api: ctx.api, kind: 'broadcast', id: broadcastId, onError: (err) => ctx.alerts.show(err) });
    report.setVisible(false);
    let ownerId: string | null = null;
    const showReportFor = (): void => report.setVisible(ctx.session.user !== null && ownerId !== null && ctx.session.user.id !== ownerId);
    // An anonymous viewer gets "Sign in to chat", not a chat box the server would refuse.
    const showChatFor = (user: unknown): void => {
      chat.setSignedIn(user !== null);
      showReportFor();
      showCanChat();
    };
    const offSession = ctx.session.subscribe(showChatFor);
    void ctx.sessionReady.then(() => showChatFor(ctx.session.user));
    root.append(
      h(
        'div',
        { class: 'watch-layout' },
        h(
          'div',
          { class: 'watch-main' },
          heading,
          meta,
          follow.element,
          stage,
          stateStatus,
          h('div', { class: 'counters' }, viewers.element, hearts.counter, heartButton),
          report.element,
        ),
        h('div', { class: 'watch-side' }, chat.element),
      ),
    );

    const render = (reason?: EndReason): void => {
      overlay.hidden = state !== 'reconnecting' && state !== 'joining';
      overlay.textContent = state === 'reconnecting' ? 'Reconnecting…' : state === 'joining' ? 'Connecting…' : '';
      heartButton.disabled = state === 'ended' || state === 'unavailable';
      chat.setEnabled(state !== 'ended' && state !== 'unavailable');
      if (state === 'ended') {
        replace(
          stateStatus,
          h('h2', {}, 'Broadcast ended'),
          reason ? h('p', {}, END_TEXT[reason]) : null,
          h('p', {}, h('a', { href: replayPath(broadcastId) }, 'Watch the replay')),
          h('p', {}, h('a', { href: '/' }, 'See who else is live')),
        );
      } else if (state === 'reconnecting') {
        replace(stateStatus, h('p', {}, 'Reconnecting…'));
      } else {
        stateStatus.replaceChildren();
      }
    };
    render();

    const showBroadcast = (b: BroadcastSummary): void => {
      heading.textContent = b.title;
      ctx.setTitle(b.title);
      replace(meta, h('a', { href: profilePath(b.owner.username), class: 'owner' }, b.owner.username), ' · ', formatLiveFor(b.startedAt, Date.now()));
      // Follow the broadcaster from here (whether one follows them comes with their profile).
      if (followShownFor !== b.owner.username) {
        followShownFor = b.owner.username;
        const owner = b.owner.username;
        void ctx.sessionReady
          .then(() => ctx.api.getProfile(owner))
          .then(
            (p) => {
              if (disposed) return;
              follow.show(p.username, p.followedByYou);
              followToChat.show(p.username, p.followedByYou);
              gateText.textContent = `Only followers of ${p.username} can chat.`;
              following = p.followedByYou;
              showCanChat();
            },
            () => undefined,
          );
      }
      viewers.set(b.viewerCount);
      ownerId = b.owner.id;
      showReportFor();
      showCanChat();
    };

    // -------------------------------------------------------------- media --
    const play = async (): Promise<void> => {
      try {
        await video.play();
      } catch (err) {
        if (disposed || !(err instanceof DOMException) || err.name !== 'NotAllowedError') return;
        // Autoplay with sound was refused: start muted and offer to unmute.
        video.muted = true;
        unmute.hidden = false;
        await video.play().catch(() => undefined);
      }
    };
    unmute.addEventListener('click', () => {
      video.muted = false;
      unmute.hidden = true;
      void video.play().catch(() => {
        video.muted = true;
        unmute.hidden = false;
      });
    });
    const attach = (stream: MediaStream): void => {
      if (disposed) return;
      video.srcObject = stream;
      void play();
    };

    /** What a subscription reports, acted on only while it is the one shown. */
    const reports = (own: () => Subscription | undefined): SubscribeOptions => ({
      onStream: (stream) => {
        if (own() !== undefined && own() === subscription) attach(stream);
      },
      // A failed re-consume during a media move is followed by a rejoin: stay quiet then.
      onError: (err) => {
        if (!joining && state === 'live' && own() === subscription) ctx.alerts.show(err);
      },
      // ICE/DTLS gave up (network change, media server gone): start over.
      onConnectionState: (cs) => {
        if (cs === 'failed' && !disposed && own() !== undefined && own() === subscription) void join();
      },
    });

    const stopMedia = (): void => {
      subscription?.close();
      subscription = null;
    };

    /** Not (or no longer) watchable by this viewer: as for a broadcast that does not exist. */
    const unavailable = (): void => {
      clearTimeout(retryTimer);
      state = 'unavailable';
      stopMedia();
      video.srcObject = null;
      heading.textContent = 'Broadcast not found';
      render();
    };

    const ended = (reason?: EndReason): void => {
      state = 'ended';
      stopMedia();
      video.srcObject = null;
      render(reason);
    };

    // ---------------------------------------------------------------- join --
    let joining = false;
    /** When the join being made started (performance.now()): reported with its first frame. */
    let joinStartedAt: number | undefined = mountedAt;
    let transientAlert = false;
    let joinAgain = false;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    const join = async (attempt = 1): Promise<void> => {
      if (disposed || state === 'ended' || state === 'unavailable') return;
      if (joining) {
        joinAgain = true;
        return;
      }
      joining = true;
      joinStartedAt ??= performance.now();
      clearTimeout(retryTimer);
      stopMedia();
      if (joinedOnce) {
        state = 'reconnecting';
        render();
      }
      try {
        const joinedOn = signal;
        const { res, media } = await (early ?? askJoin(signal, broadcastId, redirected));
        early = undefined;
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
        if (disposed) {
          // Admitted after the page left: the shared connection stays, so leave explicitly.
          leave(joinedOn);
          return;
        }
        joinedOnce = true;
        showBroadcast(res.broadcast);
        chat.reset(res.recentChat);
        chat.setSettings(res);
        followersOnly = res.followersOnly;
        showCanChat();
        if (res.broadcast.status === 'ended') {
          ended();
          return;
        }
        let sub: Subscription | undefined;
        // eslint-disable-next-line prefer-const -- reports() may read `sub` before subscribe() returns: a const would still be in its temporal dead zone then
        sub = await subscribe(signal, broadcastId, res.rtpCapabilities, { ...reports(() => sub), ...media });
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
        if (disposed) {
          sub.close();
          return;
        }
        subscription = sub;
        attach(sub.stream);
        // Not while the broadcaster is away: that wait is theirs, not the join's.
        if (res.broadcast.status === 'live') reportFirstFrame(signal, joinStartedAt);
        joinStartedAt = undefined;
        if (transientAlert) ctx.alerts.clear();
        transientAlert = false;
        state = res.broadcast.status === 'reconnecting' ? 'reconnecting' : 'live';
        render();
      } catch (err) {
        early = undefined;
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
        if (disposed) return;
        if (err instanceof ProtocolError && err.code === 'REDIRECT' && !redirected) {
          // Followed once; a target that does not check out is ignored: join here, served.
          redirected = true;
          if (isJoinRedirect(err.redirect)) moveTo(err.redirect.url);
          joinAgain = true;
        } else if (err instanceof ProtocolError && err.code === 'BROADCAST_ENDED') {
          ended();
        } else if (err instanceof ProtocolError && FATAL_JOIN.has(err.code)) {
          state = 'unavailable';
          heading.textContent = err.code === 'NOT_FOUND' ? 'Broadcast not found' : 'This broadcast is not available';
          ctx.alerts.show(err);
          render();
        } else {
          // Transient (timeout, media being moved to another worker): try again with a
          // growing pause, and only bother the viewer when it keeps failing.
          if (attempt >= 3) {
            ctx.alerts.show(err);
            transientAlert = true;
          }
          if (signal.connected) retryTimer = setTimeout(() => void join(attempt + 1), Math.min(1000 * attempt, 10_000));
        }
      } finally {
        joining = false;
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
        if (joinAgain && !disposed) {
          joinAgain = false;
          void join();
        }
      }
    };

    /** Tells the node serving this join how long it took to present its first frame (/metrics). */
    const reportFirstFrame = (s: Signal, startedAt: number | undefined): void => {
      if (startedAt === undefined) return;
      void firstFrame(video).then(() => {
        const ms = Math.min(120_000, Math.round(performance.now() - startedAt));
        if (!disposed && !s.closed) s.request('stats:first-frame', { broadcastId, ms }).catch(() => undefined);
      });
    };

    // --------------------------------------------------------------- move --
    let moving = false;
    /**
     * The node serving this page is drained (`broadcast:move`): join on `url` while the video
     * still plays here, show the new video once its media arrives, then leave here (make before
     * break: no black screen). A move that fails leaves the viewer watching where it is.
     */
    const move = async (url: string): Promise<void> => {
      if (moving || joining || disposed || state !== 'live' || !subscription) return;
      moving = true;
      const next = Signal.connect({ url });
      let sub: Subscription | undefined;
      try {
        const { res, media } = await askJoin(next, broadcastId, true);
        if (res.broadcast.status === 'ended') throw new Error('the broadcast ended');
        sub = await subscribe(next, broadcastId, res.rtpCapabilities, { ...reports(() => sub), ...media });
        await mediaArrives(sub.stream, MOVE_TIMEOUT_MS);
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
        if (disposed || joining || state !== 'live') throw new Error('superseded');
        const old = { signal, subscription };
        for (const off of offs) off();
        signal = next;
        away = true;
        redirected = true;
        listen();
        subscription = sub;
        attach(sub.stream);
        viewers.set(res.broadcast.viewerCount);
        // Leaving the old connection (closing it, or a leave on the shared one): the drained
        // node forgets this viewer.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the join above may have replaced or closed it during the awaits; TS keeps the narrowing across them
        old.subscription?.close();
        leave(old.signal);
      } catch {
        sub?.close();
        next.close();
      } finally {
        moving = false;
      }
    };

    const mine = (id: BroadcastId): boolean => id === broadcastId;
    const listen = (): void => {
      offs = [
        signal.on('viewers:count', (e) => mine(e.broadcastId) && viewers.set(e.count)),
        signal.on('chat:message', (m) => mine(m.broadcastId) && chat.add(m)),
        signal.on('chat:removed', (e) => mine(e.broadcastId) && chat.remove(e.messageId)),
        signal.on('chat:settings', (e) => {
          if (!mine(e.broadcastId)) return;
          chat.setSettings(e);
          followersOnly = e.followersOnly;
          showCanChat();
        }),
        // The broadcaster blocked this viewer: the server removed them; the page says what a missing broadcast says.
        signal.on('broadcast:removed', (e) => {
          if (mine(e.broadcastId)) unavailable();
        }),
        signal.on('hearts', (e) => mine(e.broadcastId) && hearts.received(e.count)),
        signal.on('broadcast:status', (e) => {
          if (!mine(e.broadcastId) || state === 'ended' || state === 'unavailable') return;
          state = e.status;
          render();
        }),
        signal.on('broadcast:interrupted', (e) => {
          if (mine(e.broadcastId)) void join();
        }),
        signal.on('broadcast:ended', (e) => {
          if (mine(e.broadcastId)) ended(e.reason);
        }),
        signal.on('broadcast:move', (e) => {
          if (mine(e.broadcastId) && isJoinRedirect({ url: e.url })) void move(e.url);
        }),
        signal.onDisconnect(() => {
          if (state === 'live') {
            state = 'reconnecting';
            render();
          }
        }),
        // The server forgets a viewer whose socket dropped: join from scratch.
        signal.onReconnect(() => void join()),
        // The node a redirect named cannot be reached (gone, or refusing this page's origin):
        // back to the page's origin, which serves the join.
        signal.onConnectError(() => {
          if (!away) return;
          moveTo(undefined);
          void join();
        }),
      ];
    };
    /**
     * Leaves the broadcast on a connection: the page's own is closed (which is the leave); on the
     * shared one, which stays open for the app, the page says so.
     */
    function leave(s: Signal): void {
      if (ctx.signals.isShared(s)) s.request('broadcast:leave', { broadcastId }).catch(() => undefined);
      else s.close();
    }
    /** Leaves the current connection for one to `url` (undefined: the page's origin, shared). */
    function moveTo(url: string | undefined): void {
      for (const off of offs) off();
      leave(signal);
      away = url !== undefined;
      signal = url === undefined ? shared() : Signal.connect({ url });
      listen();
    }
    listen();

    heartButton.addEventListener('click', () => {
      hearts.float(1);
      signal.request('heart:send', { broadcastId }).catch((err: unknown) => ctx.alerts.show(err));
    });

    void join();

    return () => {
      disposed = true;
      clearTimeout(retryTimer);
      offSession();
      for (const off of offs) off();
      stopMedia();
      if (ctx.signals.isShared(signal) || (joinedOnce && state !== 'ended')) signal.request('broadcast:leave', { broadcastId }).catch(() => undefined);
      if (!ctx.signals.isShared(signal)) signal.close();
      video.srcObject = null;
    };
  };
}

/**
 * Resolves once the stream's video receives media (a remote track is muted until its first
 * packets); at once for a stream without video. Rejects after `ms`.
 */
function mediaArrives(stream: MediaStream, ms: number): Promise<void> {
  const track = stream.getVideoTracks()[0];
  if (!track || !track.muted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no media within ${ms} ms`)), ms);
    track.addEventListener(
      'unmute',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** Resolves when the video presents its next frame (requestVideoFrameCallback; else its next 'playing'). */
function firstFrame(video: HTMLVideoElement): Promise<void> {
  return new Promise((resolve) => {
    if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(() => resolve());
    else (video as HTMLVideoElement).addEventListener('playing', () => resolve(), { once: true });
  });
}
