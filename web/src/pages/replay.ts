import type HlsType from 'hls.js';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { ProtocolError } from '../../../common/protocol/errors.ts';
import type { ReplayDetail, ReplaySources } from '../../../common/protocol/replays.ts';
import { field, h, replace } from '../dom.ts';
import { LIMITS } from '../../../common/protocol/rules.ts';
import { formatBytes, formatDateTime, formatDuration, heartsToDraw } from '../format.ts';
import type { PageMount } from '../page.ts';
import { ReplayCursor, shouldSwitchSource, sourceCandidates, type SourceChoice } from '../replayClock.ts';
import { watchPath } from '../router.ts';
import { ChatPanel } from '../ui/ChatPanel.ts';
import { ReportForm } from '../ui/ReportForm.ts';
import { Hearts } from '../ui/Hearts.ts';
import { mountNotFound } from './notFound.ts';

/** How often the replay is fetched again while it is recording or processing. */
const POLL_MS = 2_000;
/** The replay log keeps more lines than the live chat: a rebuild after a seek shows this many. */
const REPLAY_CHAT_LINES = 500;

type HlsConstructor = typeof HlsType;

/** Loads hls.js (its own chunk) once, on the first browser that needs it. */
let hlsModule: Promise<HlsConstructor> | null = null;
function loadHls(): Promise<HlsConstructor> {
  hlsModule ??= import('hls.js').then((m) => m.default);
  hlsModule.catch(() => {
    hlsModule = null;
  });
  return hlsModule;
}

const sameSource = (a: SourceChoice | null, b: SourceChoice): boolean => a !== null && a.kind === b.kind && a.url === b.url;
const keyOf = (s: SourceChoice): string => `${s.kind} ${s.url}`;

/**
 * `/replay/:id`: the replay video with its chat and hearts in sync with the video clock,
 * the processing status (polled until ready or failed) and the download.
 */
export function replayPage(replayId: BroadcastId): PageMount {
  return (root, ctx) => {
    ctx.setTitle('Replay');
    let disposed = false;
    let detail: ReplayDetail | null = null;
    let pollTimer: ReturnType<typeof setTimeout> | undefined;
    let failing = false;

    // --------------------------------------------------------------- view --
    const heading = h('h1', { tabindex: -1 }, 'Loading replay…');
    const meta = h('p', { class: 'broadcast-meta' });
    const video = h('video', { controls: true, playsinline: true, preload: 'metadata', 'aria-label': 'Replay video', class: 'video' });
    const hearts = new Hearts();
    const stage = h('div', { class: 'stage' }, video, hearts.layer);
    const status = h('div', { role: 'status', 'aria-live': 'polite', 'aria-label': 'Replay status', class: 'replay-status' });
    const note = h('p', { class: 'replay-note', hidden: true });
    const downloadLink = h('a', { class: 'button', href: '#' }, 'Download');
    const downloadInfo = h('small', { class: 'download-info' });
    const download = h('div', { class: 'download', hidden: true }, downloadLink, downloadInfo);
    // "Report" on others' lines for signed-in viewers (the panel is told who is signed in with the replay).
    const chat = new ChatPanel({ maxLines: REPLAY_CHAT_LINES, report: { api: ctx.api, me: () => ctx.session.user?.id ?? null } });

    // The owner's controls (shown once the broadcast has ended): rename, who may watch, delete.
    const title = field('Title', { type: 'text', maxlength: LIMITS.titleMax, required: true, autocomplete: 'off' });
    const visibility = h(
      'select',
      { 'aria-label': 'Who may watch' },
      h('option', { value: 'public' }, 'Everyone (public)'),
      h('option', { value: 'private' }, 'Only me and invited users (private)'),
    );
    const invitees = field('Invited users', { type: 'text', autocomplete: 'off' }, 'Usernames, separated by commas or spaces');
    const save = h('button', { type: 'submit' }, 'Save changes');
    const editForm = h('form', { class: 'replay-edit', 'aria-label': 'Edit replay' }, title.wrapper, h('label', {}, 'Who may watch ', visibility), invitees.wrapper, save);
    const deleteButton = h('button', { type: 'button', class: 'danger' }, 'Delete replay');
    const confirmYes = h('button', { type: 'button', class: 'danger' }, 'Yes, delete it for good');
    const confirmNo = h('button', { type: 'button' }, 'Cancel');
    const confirmBox = h(
      'div',
      { role: 'alertdialog', 'aria-label': 'Delete this replay?', class: 'confirm', hidden: true },
      h('p', {}, 'Delete this replay for good? Its video, chat and hearts are removed for everyone, and its links stop working. This cannot be undone.'),
      confirmYes,
      confirmNo,
    );
    const owner = h('section', { class: 'replay-owner', 'aria-label': 'Your replay', hidden: true }, h('h2', {}, 'Your replay'), editForm, deleteButton, confirmBox);
    let ownerFilled = false;
    const syncInvitees = (): void => {
      invitees.wrapper.hidden = visibility.value !== 'private';
    };
    visibility.addEventListener('change', syncInvitees);
    editForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const v = visibility.value === 'private' ? 'private' : 'public';
      const names = invitees.input.value.split(/[\s,]+/).filter((n) => n !== '');
      save.disabled = true;
      ctx.api
        .updateReplay(replayId, { title: title.input.value, visibility: v, ...(v === 'private' ? { invitees: names } : {}) })
        .then(
          (r) => {
            invitees.input.value = r.invitees.join(', ');
            ctx.alerts.clear();
            return load();
          },
          (err: unknown) => ctx.alerts.show(err),
        )
        .finally(() => {
          save.disabled = false;
        });
    });
    deleteButton.addEventListener('click', () => {
      confirmBox.hidden = false;
      deleteButton.hidden = true;
      confirmNo.focus();
    });
    confirmNo.addEventListener('click', () => {
      confirmBox.hidden = true;
      deleteButton.hidden = false;
      deleteButton.focus();
    });
    confirmYes.addEventListener('click', () => {
      confirmYes.disabled = true;
      ctx.api.deleteReplay(replayId).then(
        () => {
          clearTimeout(pollTimer);
          disposed = true;
          stopMedia();
          ctx.navigate('/replays');
          ctx.alerts.show('Your replay was deleted.');
        },
        (err: unknown) => {
          confirmYes.disabled = false;
          ctx.alerts.show(err);
        },
      );
    });
    // Signed-in users who do not own it may report it (docs/moderation.md).
    const report = new ReportForm({ api: ctx.api, kind: 'replay', id: replayId, onError: (err) => ctx.alerts.show(err) });
    report.setVisible(false);
    const renderOwner = (d: ReplayDetail): void => {
      report.setVisible(ctx.session.user !== null && ctx.session.user.id !== d.owner.id);
      chat.setSignedIn(ctx.session.user !== null);
      owner.hidden = ctx.session.user?.id !== d.owner.id || d.state === 'recording';
      if (owner.hidden || ownerFilled) return;
      ownerFilled = true;
      title.input.value = d.title;
      visibility.value = d.visibility;
      syncInvitees();
      if (d.visibility === 'private') {
        ctx.api.replayInvitees(replayId).then(
          (names) => (invitees.input.value = names.join(', ')),
          () => undefined,
        );
      }
    };
    const layout = h(
      'div',
      { class: 'watch-layout replay-layout' },
      h('div', { class: 'watch-main' }, heading, meta, stage, status, note, h('div', { class: 'counters' }, hearts.counter), download, owner, report.element),
      h('div', { class: 'watch-side' }, chat.element),
    );
    root.append(layout);

    // ---------------------------------------------------- chat/hearts sync --
    let cursor: ReplayCursor | null = null;
    let timelineKey = '';
    /** While a new source loads, the time to return to (currentTime reads 0 meanwhile). */
    let pendingTime: number | null = null;

    const sync = (): void => {
      if (!cursor) return;
      const seconds = pendingTime ?? video.currentTime;
      const step = cursor.advanceTo(seconds * 1000);
      if (step.reset) {
        chat.reset(step.add);
        hearts.clearFloating();
        hearts.set(step.heartsTotal);
        return;
      }
      for (const m of step.add) chat.add(m);
      if (step.hearts > 0) {
        hearts.set(step.heartsTotal);
        hearts.float(heartsToDraw(step.hearts));
      }
    };

    // While playing, follow the clock every frame (timeupdate alone fires only every
    // ~250 ms); timeupdate keeps it going where frames are throttled (background tab).
    let frame = 0;
    const tick = (): void => {
      frame = 0;
      sync();
      if (!disposed && !video.paused && !video.ended) frame = requestAnimationFrame(tick);
    };
    const startTicking = (): void => {
      if (frame === 0 && !disposed) frame = requestAnimationFrame(tick);
    };
    for (const type of ['timeupdate', 'seeking', 'seeked', 'pause', 'ended', 'loadedmetadata', 'emptied']) {
      video.addEventListener(type, sync);
    }
    video.addEventListener('play', startTicking);
    video.addEventListener('playing', startTicking);

    /** Chat and hearts from a (new) detail: a new cursor only when the timeline changed. */
    const setTimeline = (d: ReplayDetail): void => {
      const key = `${d.chat.map((m) => `${m.id}@${m.atMs}`).join(',')}|${d.hearts.map((x) => `${x.atMs}x${x.count}`).join(',')}`;
      if (cursor && key === timelineKey) return;
      timelineKey = key;
      cursor = new ReplayCursor(d.chat, d.hearts);
      sync();
    };

    // --------------------------------------------------------------- media --
    const canPlay = (type: string): boolean => video.canPlayType(type) !== '';
    const nativeHls = canPlay('application/vnd.apple.mpegurl');
    const mp4 = canPlay('video/mp4; codecs="avc1.42E01E, mp4a.40.2"');
    const mp4Opus = canPlay('video/mp4; codecs="avc1.42E01E, opus"');
    const webm = canPlay('video/webm; codecs="vp8, opus"');
    let hlsJs: boolean | undefined;
    let Hls: HlsConstructor | null = null;
    let hls: HlsType | null = null;
    let current: SourceChoice | null = null;
    /** The viewer started playing the current source: it is not replaced any more. */
    let started = false;
    let unplayableShown = false;
    const broken = new Set<string>();
    let sourceTask: Promise<void> = Promise.resolve();

    video.addEventListener('playing', () => {
      started = true;
    });

    const detach = (): void => {
      hls?.destroy();
      hls = null;
    };

    /** Plays `choice` from `resumeAt` seconds (the time is kept across a switch). */
    const attach = (choice: SourceChoice, resumeAt: number, resumePlaying: boolean): void => {
      detach();
      current = choice;
      started = false;
      pendingTime = resumeAt > 0 ? resumeAt : null;
      video.addEventListener(
        'loadedmetadata',
        () => {
          if (current !== choice) return;
          if (pendingTime !== null) video.currentTime = pendingTime;
          pendingTime = null;
          if (resumePlaying) video.play().catch(() => undefined);
          sync();
        },
        { once: true },
      );
      if (choice.kind === 'hls.js' && Hls) {
        const instance = new Hls();
        hls = instance;
        instance.on(Hls.Events.ERROR, (_event, data) => {
          if (data.fatal && hls === instance) fail(choice);
        });
        instance.loadSource(choice.url);
        instance.attachMedia(video);
      } else {
        video.src = choice.url;
      }
    };

    /**
     * Switches to the best playable source when `shouldSwitchSource` says so. `resume`
     * (after a source failed) restarts at that time, playing if it was.
     */
    const chooseSource = async (sources: ReplaySources, resume?: { at: number; playing: boolean }): Promise<void> => {
      for (;;) {
        if (disposed) return;
        const best = sourceCandidates(sources, { nativeHls, hlsJs, mp4, mp4Opus, webm }).find((c) => !broken.has(keyOf(c)));
        if (best?.kind === 'hls.js' && hlsJs === undefined && (current === null || !started)) {
          try {
            Hls = await loadHls();
            hlsJs = Hls.isSupported();
          } catch {
            hlsJs = false;
          }
          continue; // choose again, knowing whether hls.js works here
        }
        if (best === undefined) {
          const any = sources.hls !== null || sources.mp4 !== null || sources.videoMp4 !== null || sources.webm !== null;
          if (current === null && any && !unplayableShown) {
            unplayableShown = true;
            ctx.alerts.show(new Error('This browser cannot play the replay video.'));
          }
          return;
        }
        if (!shouldSwitchSource(current, best, started)) return;
        const at = resume?.at ?? (current ? (pendingTime ?? video.currentTime) : 0);
        attach(best, at, resume?.playing ?? (current !== null && !video.paused));
        return;
      }
    };
    const queue = (task: () => Promise<void>): void => {
      sourceTask = sourceTask.then(task).catch((err: unknown) => {
        if (!disposed) ctx.alerts.show(err);
      });
    };

    /** The current source cannot play: fall back to the next one, at the same time. */
    const fail = (choice: SourceChoice): void => {
      if (disposed || !sameSource(current, choice)) return;
      broken.add(keyOf(choice));
      const resume = { at: pendingTime ?? video.currentTime, playing: started && !video.paused };
      detach();
      current = null;
      started = false;
      queue(async () => {
        if (detail) await chooseSource(detail.sources, resume);
      });
    };
    video.addEventListener('error', () => {
      // hls.js reports its own errors (fatal ones above); a file source fails here.
      if (current && current.kind !== 'hls.js') fail(current);
    });

    // ---------------------------------------------------------------- render --
    const renderStatus = (d: ReplayDetail): void => {
      status.className = `replay-status state-${d.state}`;
      switch (d.state) {
        case 'recording':
          replace(
            status,
            h('p', {}, 'Recording… The broadcast is still live; the replay follows when it ends.'),
            h('p', {}, h('a', { href: watchPath(d.id) }, 'Watch it live')),
          );
          break;
        case 'processing':
          replace(
            status,
            h('p', {}, 'Processing the replay…'),
            d.sources.webm !== null || d.sources.videoMp4 !== null || d.sources.mp4 !== null ? h('p', { class: 'hint' }, 'A first version can already be played.') : null,
          );
          break;
        case 'ready':
          replace(status, h('p', {}, 'Ready to play'));
          break;
        case 'failed':
          replace(status, h('p', {}, `Failed: ${d.reason ?? 'the replay could not be made'}`));
          break;
      }
      // A ready replay may still have stopped early (e.g. the disk filled up).
      note.hidden = d.state === 'failed' || d.reason === null;
      note.textContent = d.reason === null ? '' : `The recording stopped early: ${d.reason}`;
    };

    const renderDownload = (d: ReplayDetail): void => {
      const file = d.download;
      download.hidden = file === null;
      if (file === null) return;
      downloadLink.href = file.url;
      downloadLink.setAttribute('download', file.fileName);
      replace(downloadInfo, `${file.fileName} · ${formatBytes(file.sizeBytes)} · SHA-256 `, h('code', { class: 'sha256' }, file.sha256));
    };

    const show = (d: ReplayDetail): void => {
      detail = d;
      heading.textContent = d.title;
      ctx.setTitle(d.title);
      const date = formatDateTime(d.startedAt);
      const duration = formatDuration(d.durationMs);
      replace(
        meta,
        h('span', { class: 'owner' }, d.owner.username),
        date ? ' · ' : null,
        date ? h('time', { datetime: d.startedAt }, date) : null,
        duration ? ` · ${duration}` : null,
        d.visibility === 'private' ? h('span', { class: 'badge' }, 'Private') : null,
      );
      if (d.posterUrl !== null && video.getAttribute('poster') !== d.posterUrl) video.poster = d.posterUrl;
      renderStatus(d);
      renderDownload(d);
      renderOwner(d);
      setTimeline(d);
      queue(() => chooseSource(d.sources));
    };

    // ---------------------------------------------------------------- load --
    const notFound = (): void => {
      clearTimeout(pollTimer);
      disposed = true;
      stopMedia();
      root.replaceChildren();
      mountNotFound(root, ctx);
    };

    /** 410: the owner deleted it. */
    const deleted = (): void => {
      clearTimeout(pollTimer);
      disposed = true;
      stopMedia();
      ctx.setTitle('Replay deleted');
      replace(root, h('section', { class: 'gone' }, h('h1', { tabindex: -1 }, 'This replay was deleted'), h('p', {}, 'Its owner deleted it; it is no longer available.'), h('p', {}, h('a', { href: '/replays' }, 'See other replays'))));
    };

    const load = async (): Promise<void> => {
      if (disposed) return;
      try {
        const d = await ctx.api.getReplay(replayId);
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
        if (disposed) return;
        if (failing) ctx.alerts.clear();
        failing = false;
        show(d);
      } catch (err) {
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
        if (disposed) return;
        if (err instanceof ProtocolError && (err.code === 'NOT_FOUND' || err.code === 'FORBIDDEN')) {
          notFound();
          return;
        }
        if (err instanceof ProtocolError && err.code === 'REPLAY_DELETED') {
          deleted();
          return;
        }
        // Report the first failure of a streak, not one per poll.
        if (!failing) ctx.alerts.show(err);
        failing = true;
        if (detail === null) heading.textContent = 'Replay unavailable';
      }
      const settled = detail !== null && (detail.state === 'ready' || detail.state === 'failed');
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- dispose() may run during the await above; TS keeps the narrowing across it
      if (!disposed && !settled) pollTimer = setTimeout(() => void load(), POLL_MS);
    };
    void load();

    function stopMedia(): void {
      if (frame !== 0) cancelAnimationFrame(frame);
      frame = 0;
      detach();
      video.pause();
      video.removeAttribute('src');
      video.load();
    }

    return () => {
      if (!disposed) {
        disposed = true;
        clearTimeout(pollTimer);
        stopMedia();
      }
    };
  };
}
