import { ProtocolError } from '../../common/protocol/errors.ts';
import {
  nextSwitchAt,
  SUNSET_PHASES,
  type SunsetPhase,
  type SunsetSchedule,
  type SunsetStatus,
} from '../../common/protocol/sunset.ts';
import type { ArchiveSummary } from '../../common/protocol/archives.ts';
import { h, replace } from './dom.ts';
import { formatBytes } from './format.ts';
import { isRecord, isWireError } from './guards.ts';

/**
 * Sunset mode in the browser: the banner on every page (phase, message, countdown to the
 * next switch), and the admin API calls of the `/admin` page. See docs/sunset.md.
 */

/** How often the banner asks the server again. */
const REFRESH_MS = 30_000;
/** Dispatched on `window` after the admin page changed the schedule: the banner refreshes at once. */
export const SUNSET_CHANGED_EVENT = 'spyglass:sunset-changed';

const isString = (x: unknown): x is string => typeof x === 'string';

function isSchedule(x: unknown): x is SunsetSchedule {
  return isRecord(x) && isString(x['announceAt']) && isString(x['readOnlyAt']) && isString(x['exportOnlyAt']) && isString(x['offAt']) && isString(x['message']);
}

/** A `GET /api/sunset` body, or null when the envelope is wrong. */
export function readSunsetStatus(body: unknown): SunsetStatus | null {
  if (!isRecord(body) || !SUNSET_PHASES.includes(body['phase'] as SunsetPhase) || !isString(body['now'])) return null;
  const schedule = body['schedule'];
  if (schedule !== null && !isSchedule(schedule)) return null;
  return { phase: body['phase'] as SunsetPhase, schedule, now: body['now'] };
}

/** The admin view of `GET/PUT/DELETE /api/admin/sunset`. */
export interface AdminSunsetView {
  phase: SunsetPhase;
  schedule: (SunsetSchedule & { createdBy: string; createdAt: string }) | null;
  now: string;
  audit: Array<{ at: string; actorId: string; action: string; details: Record<string, unknown> }>;
}

/** JSON call with the server's error envelope turned into a ProtocolError. */
export async function sunsetCall(method: 'GET' | 'PUT' | 'DELETE', path: string, json?: unknown): Promise<unknown> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (json !== undefined) {
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
    init.body = JSON.stringify(json);
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ProtocolError({ code: 'UNAVAILABLE', message: 'the server cannot be reached' });
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const error = isRecord(body) ? body['error'] : undefined;
    if (isWireError(error)) throw new ProtocolError(error);
    throw new ProtocolError({ code: res.status === 404 ? 'NOT_FOUND' : 'INTERNAL', message: `HTTP ${res.status}` });
  }
  return body;
}

/** The admin view, or a ProtocolError (NOT_FOUND for anyone who is not an admin). */
export async function adminSunset(method: 'GET' | 'PUT' | 'DELETE', schedule?: SunsetSchedule): Promise<AdminSunsetView> {
  const body = await sunsetCall(method, '/api/admin/sunset', schedule);
  if (!isRecord(body) || !SUNSET_PHASES.includes(body['phase'] as SunsetPhase) || !Array.isArray(body['audit'])) {
    throw new ProtocolError({ code: 'INTERNAL', message: 'unexpected response from /api/admin/sunset' });
  }
  return body as unknown as AdminSunsetView;
}

/** "2 d 3 h", "3 h 12 min", "4 min 05 s", "12 s": the time left until a switch. */
export function formatCountdown(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86_400);
  const hh = Math.floor((s % 86_400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  if (d > 0) return `${d} d ${hh} h`;
  if (hh > 0) return `${hh} h ${mm} min`;
  if (mm > 0) return `${mm} min ${String(ss).padStart(2, '0')} s`;
  return `${ss} s`;
}

/** A date as the banner shows it: the browser's locale and time zone. */
export function formatWhen(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

const PHASE_TEXT: Record<SunsetPhase, string> = {
  none: '',
  announced: 'Spyglass is closing down. New sign-ups are closed.',
  'read-only': 'Spyglass is closing down and is now read-only: no new broadcasts or chat. Replays still play.',
  'export-only': 'Spyglass is closing down: only replays, downloads and archives are available. Take your broadcasts with you.',
  off: 'Spyglass has closed.',
};

const NEXT_TEXT: Record<SunsetPhase, string> = {
  none: '',
  announced: '',
  'read-only': 'Read-only',
  'export-only': 'Export only',
  off: 'Closing',
};

export interface BannerOptions {
  /** The signed-in user's newest archive (null when signed out or none): shown with a download link. */
  archive?: () => Promise<ArchiveSummary | null>;
}

/**
 * The banner: a region named "Service closing", hidden while no sunset is announced. Shows
 * the phase, the admin's message and a countdown (each second) to the next switch, using the
 * server's clock; asks the server again every 30 s, on a switch and after admin changes.
 */
export function mountSunsetBanner(options: BannerOptions = {}): { element: HTMLElement; dispose: () => void } {
  const phaseText = h('p', { class: 'sunset-phase' });
  const message = h('p', { class: 'sunset-message' });
  const next = h('p', { class: 'sunset-next' });
  const yours = h('p', { class: 'sunset-archive', hidden: true });
  const element = h(
    'section',
    { role: 'region', 'aria-label': 'Service closing', class: 'notice sunset-banner', hidden: true },
    phaseText,
    message,
    next,
    yours,
  );
  let archive: ArchiveSummary | null = null;

  let status: SunsetStatus | null = null;
  /** Server clock minus browser clock. */
  let skew = 0;
  let disposed = false;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the next phase starts (server clock): the banner asks the server again then. */
  let pendingSwitch: number | null = null;

  const render = (): void => {
    if (!status || status.phase === 'none' || !status.schedule) {
      element.hidden = true;
      return;
    }
    element.hidden = false;
    element.dataset['phase'] = status.phase;
    const now = Date.now() + skew;
    phaseText.textContent = PHASE_TEXT[status.phase];
    message.textContent = status.schedule.message;
    message.hidden = status.schedule.message === '';
    const upcoming = nextSwitchAt(status.schedule, now);
    if (upcoming) {
      replace(next, `${NEXT_TEXT[upcoming.phase]} in `, h('strong', {}, formatCountdown(Date.parse(upcoming.at) - now)), ` (${formatWhen(upcoming.at)}).`);
      next.hidden = false;
    } else {
      next.hidden = true;
    }
    renderArchive();
  };

  /** The signed-in user's archive: pre-generated at the announcement (docs/sunset.md). */
  const renderArchive = (): void => {
    yours.hidden = !options.archive || status?.phase === 'off';
    if (yours.hidden) return;
    if (archive?.state === 'ready' && archive.downloadUrl) {
      replace(yours, 'Your archive is ready: ', h('a', { href: archive.downloadUrl, download: '' }, `download it (${formatBytes(archive.sizeBytes ?? 0)})`), '.');
    } else if (archive?.state === 'building') {
      replace(yours, `Your archive is being prepared (${archive.percent} %). `, h('a', { href: '/account' }, 'Your account'), ' shows its progress.');
    } else {
      replace(yours, 'Take your broadcasts and chat with you: ', h('a', { href: '/account' }, 'download your data'), '.');
    }
  };

  const refresh = async (): Promise<void> => {
    try {
      const body = await sunsetCall('GET', '/api/sunset');
      const read = readSunsetStatus(body);
      if (read && !disposed) {
        status = read;
        skew = Date.parse(read.now) - Date.now();
        const upcoming = nextSwitchAt(read.schedule, Date.parse(read.now));
        pendingSwitch = upcoming ? Date.parse(upcoming.at) : null;
      }
    } catch {
      // Keep showing what we knew; try again later.
    }
    if (options.archive && status && status.phase !== 'none' && status.phase !== 'off') {
      try {
        archive = await options.archive();
      } catch {
        // Signed out, or the server is busy: the generic link is shown.
      }
    }
    if (disposed) return;
    render();
    schedule(REFRESH_MS);
  };

  function schedule(ms: number): void {
    if (disposed) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => void refresh(), Math.max(ms, 1000));
  }

  const onChanged = () => void refresh();
  window.addEventListener(SUNSET_CHANGED_EVENT, onChanged);
  const tickTimer = setInterval(() => {
    if (pendingSwitch !== null && Date.now() + skew >= pendingSwitch) {
      pendingSwitch = null;
      void refresh();
    }
    if (status && status.phase !== 'none') render();
  }, 1000);
  void refresh();

  return {
    element,
    dispose: () => {
      disposed = true;
      clearTimeout(refreshTimer);
      clearInterval(tickTimer);
      window.removeEventListener(SUNSET_CHANGED_EVENT, onChanged);
    },
  };
}
