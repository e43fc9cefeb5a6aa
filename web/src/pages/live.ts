import type { BroadcastId, UserId } from '../../../common/protocol/ids.ts';
import type { BroadcastSummary, ServerToClientEvents, Visibility } from '../../../common/protocol/events.ts';
import { ProtocolError } from '../../../common/protocol/errors.ts';
import { field, h, replace, uid } from '../dom.ts';
import { parseInvitees } from '../format.ts';
import { LIMITS } from '../../../common/protocol/rules.ts';
import { capture, captureCameraVideo, captureScreen, publish, type Publication } from '../media.ts';
import type { PageMount } from '../page.ts';
import { replayPath, watchPath } from '../router.ts';
import { Signal } from '../signaling.ts';
import { avatarImage } from '../ui/Avatar.ts';
import { ChatPanel } from '../ui/ChatPanel.ts';
import { Hearts } from '../ui/Hearts.ts';
import { ViewerCount } from '../ui/ViewerCount.ts';
import { videoCodecFromQuery } from '../videoCodec.ts';

type State = 'idle' | 'starting' | 'live' | 'reconnecting' | 'ending' | 'ended';

const STATE_TEXT: Record<State, string> = {
  idle: '',
  starting: 'Going live…',
  live: 'You are live',
  reconnecting: 'Reconnecting…',
  ending: 'Ending…',
  ended: 'Broadcast ended',
};

/** Errors after which resuming is pointless: the broadcast is gone. */
const FINAL_CODES: ReadonlySet<string> = new Set(['BROADCAST_ENDED', 'NOT_FOUND', 'FORBIDDEN']);
/** Resume attempts after a reconnect before giving up (the server's grace period ends it anyway). */
const MAX_RESUME_ATTEMPTS = 5;

/**
 * `/live`: camera preview, broadcast settings, then the live controls, viewers, chat and
 * hearts; or, when an encoder is live with one of the user's stream keys, that broadcast's
 * controls, viewers, chat and hearts without the camera (docs/ingest.md). The video sent is the camera's or, after "Share screen", a screen, window or tab
 * (with the microphone); switching while live replaces the video producer's track.
 */
export const mountLive: PageMount = (root, ctx) => {
  ctx.setTitle('Go live');
  let disposed = false;
  let state: State = 'idle';
  /** The camera and microphone (while the screen is shared: the microphone alone, the camera off). */
  let stream: MediaStream | null = null;
  /** The shared screen's video track, sent instead of the camera's; null for the camera. */
  let screen: MediaStreamTrack | null = null;
  let signal: Signal | null = null;
  let broadcastId: BroadcastId | null = null;
  let publication: Publication | null = null;
  let chat: ChatPanel | null = null;
  /**
   * The broadcast on this page is sent by an encoder with a stream key (docs/ingest.md): shown
   * with its count, chat, hearts, moderation and End, without the camera; the page joins it as
   * its owner and never takes its media (no `broadcast:resume`), nor ends it when left.
   */
  let fromEncoder = false;
  const offs: Array<() => void> = [];
  // H.264 where this browser encodes it, else VP8; `/live?codec=vp8` forces VP8 (videoCodec.ts).
  const videoCodec = videoCodecFromQuery(location.search);

  // ----------------------------------------------------------------- view --
  const heading = h('h1', { tabindex: -1 }, 'Go live');
  const preview = h('video', { autoplay: true, playsinline: true, muted: true, 'aria-label': 'Camera preview', class: 'video' });
  preview.muted = true;
  const liveBadge = h('span', { class: 'live-badge', hidden: true }, 'LIVE');
  const hearts = new Hearts();
  const stage = h('div', { class: 'stage' }, preview, liveBadge, hearts.layer);
  const retryCamera = h('button', { type: 'button', hidden: true, onclick: () => void startPreview() }, 'Turn on camera');
  const sourceButton = h('button', { type: 'button', class: 'small', onclick: () => void switchSource() }, 'Share screen');
  const sourceLine = h('p', { class: 'video-source', role: 'status', 'aria-label': 'Video source' }, 'Sending: camera');
  const sourceRow = h('div', { class: 'source-row', hidden: true }, sourceLine, sourceButton);

  const title = field('Title', { type: 'text', name: 'title', maxlength: LIMITS.titleMax, autocomplete: 'off', placeholder: 'What is happening?' });
  const radioName = uid('visibility');
  const radio = (value: Visibility, label: string, checked: boolean): { row: HTMLDivElement; input: HTMLInputElement } => {
    const id = uid('vis');
    const input = h('input', { type: 'radio', id, name: radioName, value, checked });
    return { row: h('div', { class: 'radio' }, input, h('label', { for: id }, label)), input };
  };
  const isPublic = radio('public', 'Public', true);
  const isPrivate = radio('private', 'Private', false);
  const invitees = field(
    'Invitees',
    { type: 'text', name: 'invitees', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', placeholder: 'alice, bob' },
    'For a private broadcast: usernames who may watch, separated by commas.',
  );
  const visibility = h('fieldset', { class: 'visibility' }, h('legend', {}, 'Who can watch'), isPublic.row, isPrivate.row);
  const goLive = h('button', { type: 'submit', class: 'primary' }, 'Go live');
  const form = h('form', { class: 'live-form' }, title.wrapper, visibility, invitees.wrapper, goLive);
  const encoderNotice = h('div', { class: 'notice encoder', role: 'region', 'aria-label': 'Live from your encoder', hidden: true });

  const stateStatus = h('div', { role: 'status', 'aria-live': 'polite', class: 'broadcast-state' });
  // Whether the broadcast is being recorded for its replay (from `recording:status`).
  const recordingLine = h('p', { class: 'recording-state', hidden: true });
  const viewers = new ViewerCount(0);
  const watchLink = h('a', { href: '/', class: 'watch-link' }, 'Watch link');
  const watchUrl = h('code', { class: 'watch-url' });
  const copy = h('button', { type: 'button', class: 'small' }, 'Copy link');
  const linkRow = h('p', { class: 'link-row', hidden: true }, watchLink, ' ', watchUrl, ' ', copy);
  const endButton = h('button', { type: 'button', class: 'danger', hidden: true }, 'End broadcast');
  const chatSlot = h('div', { class: 'chat-slot' });

  // Moderation: slow mode, who is watching (with "Block" for each signed-in viewer), and what was done.
  const slowId = uid('slow');
  const slowSelect = h(
    'select',
    { id: slowId, name: 'slow-mode' },
    ...[0, 5, 10, 30, 60, 120, 300].map((n) => h('option', { value: n }, n === 0 ? 'Off' : `One message every ${n} s`)),
  );
  const slowRow = h('div', { class: 'field' }, h('label', { for: slowId }, 'Slow mode'), slowSelect);
  const followersOnlyBox = h('input', { type: 'checkbox', name: 'followers-only' });
  const followersOnlyRow = h('div', { class: 'field' }, h('label', {}, followersOnlyBox, ' Followers-only chat'));
  const showViewers = h('button', { type: 'button', class: 'small', 'aria-expanded': 'false' }, 'Show viewers');
  const viewerList = h('ul', { class: 'viewer-list', 'aria-label': 'Viewers', hidden: true });
  const anonymousLine = h('p', { class: 'anonymous-viewers', hidden: true });
  const moderationStatus = h('p', { role: 'status', 'aria-label': 'Moderation status', class: 'moderation-status' });
  const moderation = h(
    'section',
    { class: 'moderation', 'aria-label': 'Moderation' },
    h('h2', {}, 'Moderation'),
    slowRow,
    followersOnlyRow,
    h('h3', {}, 'Viewers'),
    showViewers,
    viewerList,
    anonymousLine,
    moderationStatus,
  );
  const controls = h(
    'div',
    { class: 'live-controls' },
    stateStatus,
    recordingLine,
    h('div', { class: 'counters' }, viewers.element, hearts.counter),
    linkRow,
    endButton,
    moderation,
  );

  const signedOut = h(
    'p',
    { class: 'notice' },
    // Link texts avoid "Sign in"/"Sign up" so the header's links keep unique names.
    'To go live, ',
    h('a', { href: '/signin?next=%2Flive' }, 'use your account'),
    ' or ',
    h('a', { href: '/signup?next=%2Flive' }, 'create a new one'),
    '.',
  );

  // A suspended account sees why, and cannot go live (the server refuses it anyway).
  const suspendedNotice = h('div', { class: 'notice suspended', role: 'status', 'aria-label': 'Account suspended', hidden: true });
  let suspended = false;
  const showSuspension = (): void => {
    void ctx.api.suspension().then(
      (s) => {
        if (disposed) return;
        suspended = s !== null;
        suspendedNotice.hidden = !s;
        if (s) {
          replace(
            suspendedNotice,
            h('h2', {}, 'Your account is suspended'),
            h('p', {}, `Reason: ${s.reason}`),
            h('p', {}, 'You cannot go live or chat. You can still watch, and ', h('a', { href: '/account' }, 'download your data'), '.'),
          );
        }
        render();
      },
      () => undefined,
    );
  };

  const render = (): void => {
    const editable = (state === 'idle' || state === 'ended') && !suspended;
    for (const input of [title.input, isPublic.input, isPrivate.input, invitees.input]) input.disabled = !editable;
    // Stays visible (disabled) while starting so focus is not lost from the clicked button.
    goLive.hidden = !editable && state !== 'starting' && !suspended;
    goLive.disabled = !editable;
    const onAir = state === 'live' || state === 'reconnecting' || state === 'ending';
    endButton.hidden = !onAir;
    moderation.hidden = !onAir;
    endButton.disabled = state === 'ending';
    liveBadge.hidden = state !== 'live';
    // "Broadcast ended" is a heading inside the status, as on the watch page.
    if (state === 'ended' && broadcastId !== null) {
      replace(stateStatus, h('h2', {}, STATE_TEXT.ended), h('p', {}, h('a', { href: replayPath(broadcastId) }, 'Watch the replay')));
    } else {
      replace(stateStatus, state === 'ended' ? h('h2', {}, STATE_TEXT.ended) : STATE_TEXT[state]);
    }
    stateStatus.className = `broadcast-state state-${state}`;
    controls.hidden = broadcastId === null && state === 'idle';
    form.hidden = fromEncoder;
    preview.hidden = fromEncoder;
    encoderNotice.hidden = !fromEncoder;
    if (fromEncoder) {
      sourceRow.hidden = true;
      retryCamera.hidden = true;
    }
  };

  const setState = (next: State): void => {
    state = next;
    render();
  };

  // --------------------------------------------------------------- camera --
  /** What goes out: the microphone with the camera's video, or with the shared screen. */
  const outgoing = (camera: MediaStream): MediaStream => (screen ? new MediaStream([...camera.getAudioTracks(), screen]) : camera);

  const showPreview = (media: MediaStream): void => {
    preview.srcObject = media;
    preview.play().catch(() => undefined);
  };

  async function startPreview(): Promise<MediaStream | null> {
    if (stream && stream.getTracks().every((t) => t.readyState === 'live')) return outgoing(stream);
    retryCamera.hidden = true;
    try {
      const captured = await capture();
      if (disposed) {
        for (const t of captured.getTracks()) t.stop();
        return null;
      }
      if (screen) {
        // The screen is shared: the camera stays off.
        for (const t of captured.getVideoTracks()) {
          t.stop();
          captured.removeTrack(t);
        }
      }
      stream = captured;
      sourceRow.hidden = false;
      const media = outgoing(captured);
      showPreview(media);
      return media;
    } catch (err) {
      if (!disposed) {
        ctx.alerts.show(err);
        retryCamera.hidden = false;
      }
      return null;
    }
  }

  // --------------------------------------------------------- screen share --
  let switching = false;
  const showSource = (): void => {
    sourceLine.textContent = screen ? 'Sending: your screen' : 'Sending: camera';
    sourceButton.textContent = screen ? 'Use camera' : 'Share screen';
  };

  /** Camera → screen, or screen → camera; while live, on the same video producer (the recording carries on). */
  async function switchSource(): Promise<void> {
    if (switching || !stream) return;
    switching = true;
    sourceButton.disabled = true;
    try {
      if (screen) await useCamera();
      else await shareScreen(stream);
    } catch (err) {
      // Closing the browser's picker is a choice, not an error.
      if (!disposed && !(err instanceof DOMException && err.name === 'NotAllowedError')) ctx.alerts.show(err);
    } finally {
      switching = false;
      sourceButton.disabled = false;
      if (!disposed) showSource();
    }
  }

  async function shareScreen(camera: MediaStream): Promise<void> {
    const track = await captureScreen();
    if (disposed) {
      track.stop();
      return;
    }
    // The browser's own "Stop sharing" ends the track: back to the camera.
    track.addEventListener('ended', () => {
      if (screen === track && !switching) void switchSource();
    });
    await publication?.replaceVideo(track);
    screen = track;
    // The camera goes off while the screen is shown.
    for (const t of camera.getVideoTracks()) {
      t.stop();
      camera.removeTrack(t);
    }
    showPreview(outgoing(camera));
  }

  async function useCamera(): Promise<void> {
    const camera = stream;
    const shared = screen;
    if (!camera || !shared) return;
    const video = await captureCameraVideo();
    if (disposed) {
      video.stop();
      return;
    }
    await publication?.replaceVideo(video);
    camera.addTrack(video);
    screen = null;
    shared.stop();
    showPreview(camera);
  }

  // ------------------------------------------------------------ recording --
  type RecordingEvent = Parameters<ServerToClientEvents['recording:status']>[0];
  /** A status that arrived before `broadcast:start` was acknowledged (its id unknown yet). */
  let earlyRecording: RecordingEvent | null = null;
  const takeEarlyRecording = (): RecordingEvent | null => {
    const e = earlyRecording;
    earlyRecording = null;
    return e;
  };
  const showRecording = (e: RecordingEvent): void => {
    if (e.state === 'recording') {
      recordingLine.hidden = false;
      recordingLine.className = 'recording-state on';
      recordingLine.textContent = 'Recording for the replay';
      return;
    }
    recordingLine.hidden = false;
    recordingLine.className = 'recording-state off';
    recordingLine.textContent = e.reason ? `Recording stopped: ${e.reason}` : 'Recording stopped';
    if (state === 'ended' || state === 'ending') return;
    // The broadcast goes on; say clearly that the replay will miss the rest.
    ctx.alerts.show(
      new Error(`The recording stopped${e.reason ? `: ${e.reason}` : ''}. You are still live, but the replay will not have what follows.`),
    );
  };

  // ------------------------------------------------------------ signalling --
  const connect = (): Signal => {
    if (signal) return signal;
    const s = Signal.connect();
    signal = s;
    const mine = (id: BroadcastId): boolean => id === broadcastId;
    offs.push(
      s.on('viewers:count', (e) => {
        if (!mine(e.broadcastId)) return;
        viewers.set(e.count);
        // The list, while shown, follows who comes and goes.
        if (!viewerList.hidden) void refreshViewers();
      }),
      s.on('chat:message', (m) => mine(m.broadcastId) && chat?.add(m)),
      s.on('chat:removed', (e) => mine(e.broadcastId) && chat?.remove(e.messageId)),
      s.on('chat:settings', (e) => {
        if (!mine(e.broadcastId)) return;
        slowSelect.value = String(e.slowModeSeconds);
        followersOnlyBox.checked = e.followersOnly;
      }),
      s.on('hearts', (e) => mine(e.broadcastId) && hearts.received(e.count)),
      s.on('broadcast:interrupted', (e) => {
        if (!mine(e.broadcastId) || (state !== 'live' && state !== 'reconnecting')) return;
        if (fromEncoder) void joinEncoder();
        else void resume();
      }),
      // An encoder's broadcast waits for its encoder (reconnecting) and gets it back (live).
      s.on('broadcast:status', (e) => {
        if (mine(e.broadcastId) && fromEncoder && (state === 'live' || state === 'reconnecting')) setState(e.status);
      }),
      s.on('broadcast:ended', (e) => {
        if (!mine(e.broadcastId)) return;
        finish();
        if (e.reason === 'account-suspended' || e.reason === 'ended-by-admin') showSuspension();
        if (e.reason === 'ended-by-admin') ctx.alerts.show(new Error('An admin ended your broadcast.'));
        if (e.reason === 'no-media') {
          ctx.alerts.show(new Error('Your broadcast ended because no video or sound reached the server. Check your camera and network, then go live again.'));
        }
      }),
      s.on('recording:status', (e) => {
        if (mine(e.broadcastId)) showRecording(e);
        else if (broadcastId === null && state === 'starting') earlyRecording = e;
      }),
      // An encoder's stream (RTMP ingest) that hurts viewers: keyframes too far apart, B-frames.
      s.on('broadcast:warning', (e) => mine(e.broadcastId) && ctx.alerts.show(new Error(e.message))),
      s.onDisconnect(() => {
        if (state === 'live') setState('reconnecting');
      }),
      s.onReconnect(() => {
        if (state !== 'live' && state !== 'reconnecting') return;
        if (fromEncoder) void joinEncoder();
        else void resume();
      }),
    );
    return s;
  };

  const showBroadcast = (broadcast: BroadcastSummary): void => {
    const url = new URL(watchPath(broadcast.id), location.origin).href;
    watchLink.href = url;
    watchUrl.textContent = url;
    linkRow.hidden = false;
    viewers.set(broadcast.viewerCount);
    chat = new ChatPanel({
      send: async (text) => {
        if (!signal || !broadcastId) throw new ProtocolError({ code: 'WRONG_STATE', message: 'not live' });
        return (await signal.request('chat:send', { broadcastId, text })).message;
      },
      onError: (err) => ctx.alerts.show(err),
      moderate: {
        selfId: broadcast.owner.id,
        remove: async (message) => {
          await liveSignal().request('chat:remove', { messageId: message.id });
          chat?.remove(message.id);
          moderationStatus.textContent = `Removed a message from ${message.user.username}`;
        },
        block: (user) => block(user),
      },
    });
    chatSlot.replaceChildren(chat.element);
    slowSelect.value = '0';
    followersOnlyBox.checked = false;
    viewerList.hidden = true;
    anonymousLine.hidden = true;
    showViewers.textContent = 'Show viewers';
    showViewers.setAttribute('aria-expanded', 'false');
    moderationStatus.textContent = '';
  };

  // ----------------------------------------------------------- moderation --
  /** The connection of the broadcast on air (moderation needs one). */
  const liveSignal = (): Signal => {
    if (!signal || !broadcastId) throw new ProtocolError({ code: 'WRONG_STATE', message: 'not live' });
    return signal;
  };

  async function block(user: { id: UserId; username: string }): Promise<void> {
    await liveSignal().request('user:block', { userId: user.id });
    moderationStatus.textContent = `${user.username} is blocked: they can no longer watch or chat. Unblock them from your account page.`;
    if (!viewerList.hidden) void refreshViewers();
  }

  let refreshing = false;
  let refreshAgain = false;
  async function refreshViewers(): Promise<void> {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    const id = broadcastId;
    if (!id || !signal) return;
    refreshing = true;
    try {
      const list = await signal.request('viewers:list', { broadcastId: id });
      if (disposed || broadcastId !== id || viewerList.hidden) return;
      replace(
        viewerList,
        ...(list.viewers.length === 0
          ? [h('li', { class: 'empty' }, 'No signed-in viewers')]
          : list.viewers.map((v) => {
              const button = h('button', { type: 'button', class: 'small', 'aria-label': `Block ${v.username}` }, 'Block');
              button.addEventListener('click', () => {
                button.disabled = true;
                block(v).catch((err: unknown) => {
                  button.disabled = false;
                  ctx.alerts.show(err);
                });
              });
              return h('li', {}, avatarImage(v), h('span', {}, v.username), button);
            })),
      );
      anonymousLine.hidden = false;
      anonymousLine.textContent = `${list.anonymous} anonymous ${list.anonymous === 1 ? 'viewer' : 'viewers'}`;
    } catch (err) {
      if (!disposed) ctx.alerts.show(err);
    } finally {
      refreshing = false;
      if (refreshAgain && !disposed) {
        refreshAgain = false;
        void refreshViewers();
      }
    }
  }

  showViewers.addEventListener('click', () => {
    const show = viewerList.hidden;
    viewerList.hidden = !show;
    anonymousLine.hidden = !show;
    showViewers.textContent = show ? 'Hide viewers' : 'Show viewers';
    showViewers.setAttribute('aria-expanded', String(show));
    if (show) {
      replace(viewerList, h('li', { class: 'empty' }, 'Loading…'));
      void refreshViewers();
    }
  });

  slowSelect.addEventListener('change', () => {
    const seconds = Number(slowSelect.value);
    let s: Signal;
    try {
      s = liveSignal();
    } catch (err) {
      ctx.alerts.show(err);
      return;
    }
    const id = broadcastId;
    if (!id) return;
    slowSelect.disabled = true;
    s.request('chat:slow-mode', { broadcastId: id, seconds })
      .then(
        (res) => {
          moderationStatus.textContent = res.slowModeSeconds > 0 ? `Slow mode on: one message every ${res.slowModeSeconds} s per viewer` : 'Slow mode off';
        },
        (err: unknown) => ctx.alerts.show(err),
      )
      .finally(() => {
        slowSelect.disabled = false;
      });
  });

  followersOnlyBox.addEventListener('change', () => {
    const enabled = followersOnlyBox.checked;
    let s: Signal;
    try {
      s = liveSignal();
    } catch (err) {
      followersOnlyBox.checked = !enabled;
      ctx.alerts.show(err);
      return;
    }
    const id = broadcastId;
    if (!id) return;
    followersOnlyBox.disabled = true;
    s.request('chat:followers-only', { broadcastId: id, enabled })
      .then(
        (res) => {
          followersOnlyBox.checked = res.followersOnly;
          moderationStatus.textContent = res.followersOnly ? 'Followers-only chat on: only your followers can chat' : 'Followers-only chat off';
        },
        (err: unknown) => {
          followersOnlyBox.checked = !enabled;
          ctx.alerts.show(err);
        },
      )
      .finally(() => {
        followersOnlyBox.disabled = false;
      });
  });

  copy.addEventListener('click', () => {
    const url = watchLink.href;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- clipboard is undefined outside a secure context, whatever the DOM types say
    navigator.clipboard?.writeText(url).then(
      () => {
        copy.textContent = 'Copied';
        setTimeout(() => (copy.textContent = 'Copy link'), 1500);
      },
      () => ctx.alerts.show(new Error('Could not copy the link; select it and copy it by hand.')),
    );
  });

  // ------------------------------------------------------------- actions --
  async function start(): Promise<void> {
    ctx.alerts.clear();
    const titleText = title.input.value.trim();
    if (titleText === '') {
      ctx.alerts.show(new ProtocolError({ code: 'VALIDATION_FAILED', message: 'Enter a title for your broadcast' }));
      title.input.focus();
      return;
    }
    const vis: Visibility = isPrivate.input.checked ? 'private' : 'public';
    const parsed = vis === 'private' ? parseInvitees(invitees.input.value) : { ok: true as const, usernames: [] };
    if (!parsed.ok) {
      ctx.alerts.show(new ProtocolError({ code: 'VALIDATION_FAILED', message: `Invitees: ${parsed.message}` }));
      invitees.input.focus();
      return;
    }
    setState('starting');
    recordingLine.hidden = true;
    earlyRecording = null;
    let startedId: BroadcastId | null = null;
    try {
      const media = await startPreview();
      if (!media) throw new ProtocolError({ code: 'MEDIA_ERROR', message: 'the camera and microphone are needed to go live' });
      const s = connect();
      const res = await s.request('broadcast:start', { title: titleText, visibility: vis, invitees: parsed.usernames });
      startedId = res.broadcast.id;
      broadcastId = startedId;
      const early = takeEarlyRecording();
      if (early && early.broadcastId === startedId) showRecording(early);
      hearts.reset();
      showBroadcast(res.broadcast);
      if (disposed) return;
      publication = await publish(s, startedId, res.rtpCapabilities, media, { videoCodec });
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
      if (disposed) return;
      setState('live');
      endButton.focus();
    } catch (err) {
      if (disposed) return;
      ctx.alerts.show(err);
      if (err instanceof ProtocolError && err.code === 'SUSPENDED') showSuspension();
      if (startedId !== null) signal?.request('broadcast:stop', { broadcastId: startedId }).catch(() => undefined);
      publication?.close();
      publication = null;
      broadcastId = null;
      linkRow.hidden = true;
      recordingLine.hidden = true;
      setState('idle');
    }
  }

  let resuming = false;
  let resumeAgain = false;
  async function resume(attempt = 1): Promise<void> {
    if (resuming) {
      resumeAgain = true;
      return;
    }
    const id = broadcastId;
    const s = signal;
    if (!id || !s || !stream) return;
    resuming = true;
    setState('reconnecting');
    try {
      publication?.close();
      publication = null;
      const res = await s.request('broadcast:resume', { broadcastId: id });
      if (disposed || broadcastId !== id) return;
      viewers.set(res.broadcast.viewerCount);
      const media = (await startPreview()) ?? outgoing(stream);
      publication = await publish(s, id, res.rtpCapabilities, media, { videoCodec });
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
      if (disposed || broadcastId !== id) {
        publication.close();
        return;
      }
      setState('live');
    } catch (err) {
      if (disposed) return;
      if (err instanceof ProtocolError && FINAL_CODES.has(err.code)) {
        finish();
        return;
      }
      if (attempt < MAX_RESUME_ATTEMPTS && s.connected) {
        setTimeout(() => {
          if (!disposed && state === 'reconnecting') void resume(attempt + 1);
        }, 1000 * attempt);
      } else {
        ctx.alerts.show(err);
      }
    } finally {
      resuming = false;
      if (resumeAgain && !disposed) {
        resumeAgain = false;
        void resume();
      }
    }
  }

  /** Shows the broadcast an encoder sends (docs/ingest.md) and joins it: its count, chat and hearts; End ends it. */
  async function showEncoderBroadcast(b: BroadcastSummary): Promise<void> {
    fromEncoder = true;
    broadcastId = b.id;
    hearts.reset();
    showBroadcast(b);
    replace(
      encoderNotice,
      h('h2', {}, `Live from your encoder (${b.source === 'whip' ? 'WHIP' : 'RTMP'})`),
      h('p', { class: 'encoder-title' }, b.title),
      h('p', {}, 'Your encoder sends the video; this page shows the chat and viewers. End it here, or stop streaming in your encoder.'),
    );
    setState(b.status === 'reconnecting' ? 'reconnecting' : 'live');
    await joinEncoder();
  }

  /** Joins the encoder's broadcast as its owner (again after a reconnect): no media, the chat so far, the count and slow mode. */
  async function joinEncoder(): Promise<void> {
    const id = broadcastId;
    if (!id || !fromEncoder) return;
    const s = connect();
    try {
      const res = await s.request('broadcast:join', { broadcastId: id });
      if (disposed || broadcastId !== id) return;
      viewers.set(res.broadcast.viewerCount);
      chat?.reset(res.recentChat);
      slowSelect.value = String(res.slowModeSeconds);
      setState(res.broadcast.status === 'reconnecting' ? 'reconnecting' : 'live');
    } catch (err) {
      if (disposed) return;
      if (err instanceof ProtocolError && (FINAL_CODES.has(err.code) || err.code === 'BROADCAST_ENDED')) finish();
      else ctx.alerts.show(err);
    }
  }

  async function end(): Promise<void> {
    const id = broadcastId;
    if (!id || !signal) return;
    setState('ending');
    try {
      await signal.request('broadcast:stop', { broadcastId: id });
    } catch (err) {
      if (!(err instanceof ProtocolError && err.code === 'BROADCAST_ENDED')) ctx.alerts.show(err);
    }
    if (!disposed) finish();
  }

  /** The broadcast is over: stop sending, keep the camera for another go. */
  function finish(): void {
    publication?.close();
    publication = null;
    chat?.setEnabled(false);
    const wasEncoder = fromEncoder;
    fromEncoder = false;
    setState('ended');
    heading.focus();
    // The encoder's broadcast is over: the page is the go-live page again (camera and form).
    if (wasEncoder && !disposed) void startPreview();
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (state === 'idle' || state === 'ended') void start();
  });
  endButton.addEventListener('click', () => void end());

  // ---------------------------------------------------------------- mount --
  root.append(heading);
  render();
  void ctx.sessionReady.then(() => {
    if (disposed) return;
    if (!ctx.session.user) {
      root.append(signedOut);
      return;
    }
    root.append(
      suspendedNotice,
      h(
        'div',
        { class: 'live-layout' },
        h('div', { class: 'live-main' }, stage, retryCamera, sourceRow, controls),
        h('div', { class: 'live-side' }, encoderNotice, form, chatSlot),
      ),
    );
    showSuspension();
    // A broadcast an encoder started is shown instead of the camera (docs/ingest.md).
    ctx.api.streamKeys().then(
      (k) => {
        if (disposed) return;
        if (k.live) void showEncoderBroadcast(k.live);
        else void startPreview();
      },
      () => {
        if (!disposed) void startPreview();
      },
    );
  });

  return () => {
    disposed = true;
    for (const off of offs) off();
    if (broadcastId && !fromEncoder && (state === 'starting' || state === 'live' || state === 'reconnecting')) {
      // Leaving the page ends the broadcast: its camera is about to stop.
      signal?.request('broadcast:stop', { broadcastId }).catch(() => undefined);
    }
    publication?.close();
    signal?.close();
    for (const t of stream?.getTracks() ?? []) t.stop();
    screen?.stop();
    preview.srcObject = null;
  };
};
