import type { ChatMessage } from '../../common/protocol/events.ts';
import type { ReplayState } from '../../common/protocol/replays.ts';
import { USERNAME_RULES, LIMITS } from '../../common/protocol/rules.ts';

/** Pure text formatting shared by the pages. */

/** "0 watching", "2 watching": plain digits, no thousands separator, so the text is predictable. */
export function formatViewers(count: number): string {
  const n = Number.isFinite(count) && count > 0 ? Math.floor(count) : 0;
  return `${n} watching`;
}

/** One chat line exactly as the log shows it: "username: text". */
export function formatChatLine(message: Pick<ChatMessage, 'user' | 'text'>): string {
  return `${message.user.username}: ${message.text}`;
}

/** An error as shown in the alert region: the message, then the stable code. */
export function formatError(code: string, message: string): string {
  return `${message} (${code})`;
}

/** How many floating hearts to draw for a burst of `count`: enough to feel it, never a flood. */
export function heartsToDraw(count: number, max = 8): number {
  if (!Number.isFinite(count) || count <= 0) return 0;
  return Math.min(Math.floor(count), max);
}

/** Adds a hearts burst to a running total, ignoring nonsense (negative, NaN). */
export function addHearts(total: number, count: number): number {
  return Number.isFinite(count) && count > 0 ? total + Math.floor(count) : total;
}

/** "live for 5 min" style duration between an ISO start and now. */
export function formatLiveFor(startedAt: string, now: number): string {
  const start = Date.parse(startedAt);
  if (Number.isNaN(start)) return '';
  const minutes = Math.max(0, Math.floor((now - start) / 60_000));
  if (minutes < 1) return 'just started';
  if (minutes < 60) return `live for ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `live for ${hours} h` : `live for ${hours} h ${rest} min`;
}

/** The rule of `UsernameSchema` (after trimming): 3–32 of letters, digits, "_", "." and "-". */
export function isValidUsername(name: string): boolean {
  return name.length >= USERNAME_RULES.min && name.length <= USERNAME_RULES.max && USERNAME_RULES.pattern.test(name);
}

export type InviteesResult = { ok: true; usernames: string[] } | { ok: false; message: string };

/**
 * Parses the invitees field: usernames separated by commas or whitespace, an optional
 * leading "@", duplicates (case-insensitive) dropped. Same rules as the server's schema.
 */
export function parseInvitees(text: string): InviteesResult {
  const seen = new Set<string>();
  const usernames: string[] = [];
  for (const raw of text.split(/[\s,;]+/)) {
    const name = raw.startsWith('@') ? raw.slice(1) : raw;
    if (name === '') continue;
    if (!isValidUsername(name)) {
      return { ok: false, message: `"${name}" is not a valid username` };
    }
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    usernames.push(name);
  }
  if (usernames.length > LIMITS.inviteesMax) {
    return { ok: false, message: `at most ${LIMITS.inviteesMax} invitees` };
  }
  return { ok: true, usernames };
}

/** A video length as "m:ss" ("0:07", "12:34"), or "h:mm:ss" from one hour. Null or nonsense → "". */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '';
  const total = Math.round(ms / 1000);
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const hours = Math.floor(total / 3600);
  const ss = String(s).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A file size in decimal units, one decimal from kB up: "512 B", "12.3 MB", "1.5 GB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1000) return `${Math.floor(bytes)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'] as const;
  let value = bytes / 1000;
  let unit = 0;
  // Compare the rounded value so 999 999 bytes reads "1.0 MB", not "1000.0 kB".
  while (Math.round(value * 10) / 10 >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit] ?? 'TB'}`;
}

/** The badge of a replay that is not ready: "Recording…", "Processing…", "Failed: reason"; null when ready. */
export function replayStateText(state: ReplayState, reason: string | null): string | null {
  switch (state) {
    case 'recording':
      return 'Recording…';
    case 'processing':
      return 'Processing…';
    case 'failed':
      return reason ? `Failed: ${reason}` : 'Failed';
    case 'ready':
      return null;
  }
}

/** A date and time for people, in the browser's locale ("Jan 5, 2025, 3:04 PM"); "" when unparsable. */
export function formatDateTime(iso: string, locale?: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  return new Date(t).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
}
