/**
 * Sunset mode: a service closing down in dated phases. Pure and browser-safe (no zod, no
 * Node): the server enforces with it, the web client shows the banner with it.
 *
 * The phase is never stored: it is COMPUTED from the four stored dates and the clock. Every
 * process that reads the same schedule row therefore agrees on the phase, phases switch on
 * time with no job or timer to fire, and a restart changes nothing.
 */

import { controlCharProblem } from './rules.ts';

/** The phases, in order. 'none': no sunset is announced (or none is scheduled). */
export type SunsetPhase = 'none' | 'announced' | 'read-only' | 'export-only' | 'off';

export const SUNSET_PHASES: readonly SunsetPhase[] = ['none', 'announced', 'read-only', 'export-only', 'off'];

/** What a phase may or may not allow (see `allowedIn`). */
export type SunsetAction = 'signup' | 'broadcast' | 'chat' | 'heart' | 'watch' | 'replay' | 'archive' | 'download' | 'profile';

/** The four dates as ISO-8601 UTC strings, and the message shown with the banner and farewell page. */
export interface SunsetSchedule {
  announceAt: string;
  readOnlyAt: string;
  exportOnlyAt: string;
  offAt: string;
  /** Free text from the admin (may be empty). */
  message: string;
}

/** `GET /api/sunset`: the public view, for the banner. `schedule` is null while nothing is announced. */
export interface SunsetStatus {
  phase: SunsetPhase;
  schedule: SunsetSchedule | null;
  /** The server's clock (ISO-8601), so a countdown does not depend on the browser's clock. */
  now: string;
}

/** The date fields, in phase order, with the phase each one starts. */
export const SUNSET_DATE_FIELDS = [
  { key: 'announceAt', phase: 'announced' },
  { key: 'readOnlyAt', phase: 'read-only' },
  { key: 'exportOnlyAt', phase: 'export-only' },
  { key: 'offAt', phase: 'off' },
] as const satisfies ReadonlyArray<{ key: keyof SunsetSchedule; phase: SunsetPhase }>;

export const SUNSET_MESSAGE_MAX = 1000;

/** The latest phase whose date is reached at `nowMs` ('none' without a schedule or before the announcement). */
export function phaseAt(schedule: SunsetSchedule | null | undefined, nowMs: number): SunsetPhase {
  if (!schedule) return 'none';
  let phase: SunsetPhase = 'none';
  for (const { key, phase: p } of SUNSET_DATE_FIELDS) {
    const at = Date.parse(schedule[key]);
    if (Number.isFinite(at) && nowMs >= at) phase = p;
  }
  return phase;
}

/** The next phase switch strictly after `nowMs`, or null when there is none (no schedule, or already off). */
export function nextSwitchAt(schedule: SunsetSchedule | null | undefined, nowMs: number): { phase: SunsetPhase; at: string } | null {
  if (!schedule) return null;
  for (const { key, phase } of SUNSET_DATE_FIELDS) {
    const at = Date.parse(schedule[key]);
    if (Number.isFinite(at) && at > nowMs) return { phase, at: new Date(at).toISOString() };
  }
  return null;
}

const ALLOWED: Record<SunsetPhase, ReadonlySet<SunsetAction>> = {
  none: new Set(['signup', 'broadcast', 'chat', 'heart', 'watch', 'replay', 'archive', 'download', 'profile']),
  // As Periscope did: the announcement closes sign-ups, everything else goes on.
  announced: new Set(['broadcast', 'chat', 'heart', 'watch', 'replay', 'archive', 'download', 'profile']),
  // No new broadcasts, chat or hearts; live broadcasts already on air may still be watched; replays play.
  // Editing profiles, following and marking notifications read go on until export-only.
  'read-only': new Set(['watch', 'replay', 'archive', 'download', 'profile']),
  // Only taking things away: replays (to find what to download), downloads and archives.
  'export-only': new Set(['replay', 'archive', 'download']),
  off: new Set(),
};

/** Whether `action` is allowed in `phase`. */
export function allowedIn(phase: SunsetPhase, action: SunsetAction): boolean {
  return ALLOWED[phase].has(action);
}

/** Human wording of a phase (banner, admin page, CLI). */
export function describePhase(phase: SunsetPhase): string {
  switch (phase) {
    case 'none':
      return 'running normally';
    case 'announced':
      return 'closing announced: sign-ups are closed';
    case 'read-only':
      return 'read-only: no new broadcasts or chat; replays still play';
    case 'export-only':
      return 'export-only: only replays, downloads and archives';
    case 'off':
      return 'closed';
  }
}

// A full date and time with a zone: "2031-05-01T12:00Z", "2031-05-01T12:00:00.000+02:00".
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an ISO-8601 date-time with a time zone; undefined when malformed. */
export function parseIsoDateTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || !ISO_DATE_TIME.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Every problem with a proposed schedule, as readable sentences (empty when valid): all four
 * dates present and well-formed (ISO-8601 with a time zone), each in the future of `nowMs`,
 * in phase order (strictly increasing), and a message string of at most 1000 characters
 * without control characters other than tab and new lines.
 */
export function validateSchedule(input: unknown, nowMs: number): string[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return ['the schedule must be an object with announceAt, readOnlyAt, exportOnlyAt and offAt'];
  const s = input as Record<string, unknown>;
  const errors: string[] = [];
  const known = new Set<string>([...SUNSET_DATE_FIELDS.map((f) => f.key), 'message']);
  for (const key of Object.keys(s)) if (!known.has(key)) errors.push(`${key}: unknown field`);
  const times: Array<{ key: string; ms: number }> = [];
  for (const { key } of SUNSET_DATE_FIELDS) {
    const raw = s[key];
    if (raw === undefined || raw === null || raw === '') {
      errors.push(`${key}: required`);
      continue;
    }
    const ms = parseIsoDateTime(raw);
    if (ms === undefined) {
      errors.push(`${key}: must be an ISO-8601 date and time with a time zone, e.g. 2031-05-01T12:00:00Z`);
      continue;
    }
    if (ms <= nowMs) errors.push(`${key}: must be in the future (it is ${new Date(ms).toISOString()}, now is ${new Date(nowMs).toISOString()})`);
    times.push({ key, ms });
  }
  let prev: (typeof times)[number] | undefined;
  for (const cur of times) {
    if (prev && cur.ms <= prev.ms) errors.push(`${cur.key}: must be after ${prev.key}`);
    prev = cur;
  }
  const message = s['message'];
  if (message !== undefined && typeof message !== 'string') errors.push('message: must be a string');
  else if (typeof message === 'string' && message.length > SUNSET_MESSAGE_MAX) errors.push(`message: at most ${SUNSET_MESSAGE_MAX} characters`);
  else if (typeof message === 'string') {
    const problem = controlCharProblem(message, true);
    if (problem) errors.push(`message: ${problem}`);
  }
  return errors;
}

/**
 * The schedule of a valid input, dates normalised to ISO-8601 UTC and the message trimmed.
 * Throws when `validateSchedule` would report errors.
 */
export function normaliseSchedule(input: unknown, nowMs: number): SunsetSchedule {
  const errors = validateSchedule(input, nowMs);
  if (errors.length > 0) throw new Error(errors.join('; '));
  const s = input as Record<string, unknown>;
  const iso = (key: string) => {
    const ms = parseIsoDateTime(s[key]);
    if (ms === undefined) throw new Error(`${key}: not a date`);
    return new Date(ms).toISOString();
  };
  return {
    announceAt: iso('announceAt'),
    readOnlyAt: iso('readOnlyAt'),
    exportOnlyAt: iso('exportOnlyAt'),
    offAt: iso('offAt'),
    message: typeof s['message'] === 'string' ? s['message'].trim() : '',
  };
}
