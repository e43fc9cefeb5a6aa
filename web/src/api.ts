import type { ArchiveSummary } from '../../common/protocol/archives.ts';
import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import type { BroadcastSummary, UserSummary, Visibility } from '../../common/protocol/events.ts';
import type { CreatedStreamKey, StreamKeyList, StreamKeyView } from '../../common/protocol/streamKeys.ts';
import { ProtocolError } from '../../common/protocol/errors.ts';
import type { AdminReport, ReportKind, ReportReason, ReportSummary, SuspendedUser, Suspension } from '../../common/protocol/reports.ts';
import type { ReplayChatMessage, ReplayDetail, ReplayDownload, ReplayHearts, ReplaySources, ReplaySummary } from '../../common/protocol/replays.ts';
import type { FollowList, FollowState, NotificationList, NotificationView, PersonSummary, Profile } from '../../common/protocol/profiles.ts';
import { ID_PATTERNS } from '../../common/protocol/rules.ts';
import { isBroadcastId, isBroadcastSummary, isRecord, isUserSummary, isWireError } from './guards.ts';

/** The HTTP JSON API of the signalling process. Errors are thrown as `ProtocolError`. */
export class Api {
  readonly #fetch: typeof fetch;

  /** @param fetchImpl the fetch to use. Default: the window's. */
  constructor(fetchImpl: typeof fetch = (input, init) => fetch(input, init)) {
    this.#fetch = fetchImpl;
  }

  /** The signed-in user, or null when the session cookie is missing or expired. */
  async me(): Promise<UserSummary | null> {
    try {
      const body = await this.#call('GET', '/api/auth/me');
      return readUser(body);
    } catch (err) {
      if (err instanceof ProtocolError && err.code === 'UNAUTHENTICATED') return null;
      throw err;
    }
  }

  /** Why the signed-in account is suspended, or null (also when signed out). */
  async suspension(): Promise<Suspension | null> {
    try {
      const body = await this.#call('GET', '/api/auth/me');
      const s = isRecord(body) ? body['suspension'] : undefined;
      return isRecord(s) && typeof s['reason'] === 'string' && typeof s['since'] === 'string' ? { reason: s['reason'], since: s['since'] } : null;
    } catch (err) {
      if (err instanceof ProtocolError && err.code === 'UNAUTHENTICATED') return null;
      throw err;
    }
  }

  /** Reports a broadcast, a replay or a chat message to the admins; reporting the same item again is the same report. */
  async report(kind: ReportKind, id: string, reason: ReportReason, details: string): Promise<ReportSummary> {
    const body = await this.#call('POST', '/api/reports', { kind, id, reason, details });
    const r = isRecord(body) ? body['report'] : undefined;
    if (!isRecord(r) || typeof r['id'] !== 'string') throw malformed('/api/reports');
    return r as unknown as ReportSummary;
  }

  /** Admins: the reports queue (open ones oldest first, or resolved ones newest first), with the number open. */
  async adminReports(state: 'open' | 'resolved'): Promise<{ reports: AdminReport[]; open: number }> {
    const body = await this.#call('GET', `/api/admin/reports?state=${state}`);
    const list = isRecord(body) ? body['reports'] : undefined;
    const open = isRecord(body) ? body['open'] : undefined;
    if (!Array.isArray(list) || typeof open !== 'number') throw malformed('/api/admin/reports');
    return { reports: list.filter((r): r is AdminReport => isRecord(r) && typeof r['id'] === 'string' && isRecord(r['context'])), open };
  }

  /** Admins: act on a report's item (dismiss, remove, end the broadcast, suspend its owner with a reason). */
  async adminReportAction(id: string, action: { action: 'dismiss' | 'remove' | 'end' } | { action: 'suspend'; reason: string }): Promise<void> {
    await this.#call('POST', `/api/admin/reports/${encodeURIComponent(id)}`, action);
  }

  /** Admins: every suspended account. */
  async adminSuspensions(): Promise<SuspendedUser[]> {
    const body = await this.#call('GET', '/api/admin/suspensions');
    const list = isRecord(body) ? body['suspensions'] : undefined;
    if (!Array.isArray(list)) throw malformed('/api/admin/suspensions');
    return list.filter((s): s is SuspendedUser => isRecord(s) && isRecord(s['user']) && typeof s['reason'] === 'string');
  }

  /** Admins: lifts a suspension. */
  async adminUnsuspend(userId: string): Promise<void> {
    await this.#call('DELETE', `/api/admin/users/${encodeURIComponent(userId)}/suspension`);
  }

  /** Admins: the newest admin actions of every kind. */
  async adminAudit(): Promise<Array<{ at: string; actorId: string; action: string; details: Record<string, unknown> }>> {
    const body = await this.#call('GET', '/api/admin/audit?limit=30');
    const list = isRecord(body) ? body['audit'] : undefined;
    if (!Array.isArray(list)) throw malformed('/api/admin/audit');
    return list.filter(
      (e): e is { at: string; actorId: string; action: string; details: Record<string, unknown> } =>
        isRecord(e) && typeof e['at'] === 'string' && typeof e['action'] === 'string' && typeof e['actorId'] === 'string' && isRecord(e['details']),
    );
  }

  async signUp(username: string, password: string): Promise<UserSummary> {
    return readUser(await this.#call('POST', '/api/auth/signup', { username, password }));
  }

  async signIn(username: string, password: string): Promise<UserSummary> {
    return readUser(await this.#call('POST', '/api/auth/signin', { username, password }));
  }

  async signOut(): Promise<void> {
    await this.#call('POST', '/api/auth/signout');
  }

  /** Ends every session of the signed-in user, this one included. */
  async signOutEverywhere(): Promise<void> {
    await this.#call('POST', '/api/auth/signout-everywhere');
  }

  /** Deletes the signed-in account and everything of it, for good. */
  async deleteAccount(password: string): Promise<void> {
    await this.#call('DELETE', '/api/account', { password });
  }

  /** Changes the password; this session stays, every other one ends. */
  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    await this.#call('POST', '/api/auth/password', { currentPassword, newPassword });
  }

  /** The owner renames a replay and/or changes who may watch it; returns its invitees (usernames) after. */
  async updateReplay(id: BroadcastId, change: { title?: string; visibility?: 'public' | 'private'; invitees?: string[] }): Promise<{ invitees: string[] }> {
    const body = await this.#call('PATCH', `/api/replays/${encodeURIComponent(id)}`, change);
    return { invitees: readNames(body) };
  }

  /** The owner's view of who is invited to a replay. */
  async replayInvitees(id: BroadcastId): Promise<string[]> {
    return readNames(await this.#call('GET', `/api/replays/${encodeURIComponent(id)}/invitees`));
  }

  /** Whom the signed-in user blocked, newest first. */
  async listBlocked(): Promise<Array<{ user: UserSummary; blockedAt: string }>> {
    const body = await this.#call('GET', '/api/blocks');
    const list = isRecord(body) ? body['blocked'] : undefined;
    if (!Array.isArray(list)) throw malformed('/api/blocks');
    const entries: Array<{ user: UserSummary; blockedAt: string }> = [];
    for (const e of list as unknown[]) {
      const user = isRecord(e) ? e['user'] : undefined;
      const blockedAt = isRecord(e) ? e['blockedAt'] : undefined;
      if (isUserSummary(user) && typeof blockedAt === 'string') entries.push({ user, blockedAt });
    }
    return entries;
  }

  /** Blocks a user by username: they can no longer watch, chat in or send hearts to your broadcasts, nor watch your replays. */
  async block(username: string): Promise<UserSummary> {
    return readUser(await this.#call('POST', '/api/blocks', { username }));
  }

  /** Lets a blocked user back in. */
  async unblock(userId: UserId): Promise<void> {
    await this.#call('DELETE', `/api/blocks/${encodeURIComponent(userId)}`);
  }

  /** The caller's stream keys (never a secret), the RTMP port, and the broadcast an encoder started, if on air (docs/ingest.md). */
  async streamKeys(): Promise<StreamKeyList> {
    const body = await this.#call('GET', '/api/stream-keys');
    const keys = isRecord(body) ? body['keys'] : undefined;
    const port = isRecord(body) ? body['rtmpPort'] : undefined;
    const live = isRecord(body) ? body['live'] : undefined;
    if (!Array.isArray(keys) || (port !== null && typeof port !== 'number') || (live !== null && !isBroadcastSummary(live))) throw malformed('/api/stream-keys');
    return { keys: keys.filter(isStreamKeyView), rtmpPort: port, live };
  }

  /** A new stream key: its secret is in this answer only. */
  async createStreamKey(k: { name: string; title: string; visibility: Visibility }): Promise<CreatedStreamKey> {
    const body = await this.#call('POST', '/api/stream-keys', k);
    const key = isRecord(body) ? body['key'] : undefined;
    const secret = isRecord(body) ? body['secret'] : undefined;
    if (!isStreamKeyView(key) || typeof secret !== 'string') throw malformed('/api/stream-keys');
    return { key, secret };
  }

  /** Revokes a stream key: it starts nothing from now on. */
  async revokeStreamKey(id: string): Promise<void> {
    await this.#call('DELETE', `/api/stream-keys/${encodeURIComponent(id)}`);
  }

  /** The owner deletes a replay for good. */
  async deleteReplay(id: BroadcastId): Promise<void> {
    await this.#call('DELETE', `/api/replays/${encodeURIComponent(id)}`);
  }

  /**
   * One page of the live broadcasts the caller may see, newest first (`limit` 1–100, default
   * 20); pass the previous page's `nextCursor` for the next one.
   */
  async listBroadcasts(opts: { limit?: number; cursor?: string | null; following?: boolean } = {}): Promise<{ broadcasts: BroadcastSummary[]; nextCursor: string | null }> {
    const query = new URLSearchParams();
    if (opts.limit !== undefined) query.set('limit', String(opts.limit));
    if (opts.cursor) query.set('cursor', opts.cursor);
    if (opts.following) query.set('following', 'true');
    const qs = query.toString();
    const body = await this.#call('GET', `/api/broadcasts${qs ? `?${qs}` : ''}`);
    const list = isRecord(body) ? body['broadcasts'] : undefined;
    const next = isRecord(body) ? body['nextCursor'] : undefined;
    if (!Array.isArray(list) || (next !== null && typeof next !== 'string')) throw malformed('/api/broadcasts');
    return { broadcasts: list.filter(isBroadcastSummary), nextCursor: next };
  }

  async getBroadcast(id: BroadcastId): Promise<BroadcastSummary> {
    const body = await this.#call('GET', `/api/broadcasts/${encodeURIComponent(id)}`);
    const broadcast = isRecord(body) ? body['broadcast'] : undefined;
    if (!isBroadcastSummary(broadcast)) throw malformed('/api/broadcasts/:id');
    return broadcast;
  }

  /**
   * Replays, newest first: `public` ones anyone may see, or `mine` (signed in: the
   * caller's own, any state and visibility).
   */
  async listReplays(scope: 'public' | 'mine'): Promise<ReplaySummary[]> {
    const body = await this.#call('GET', `/api/replays?scope=${scope}`);
    const list = isRecord(body) ? body['replays'] : undefined;
    if (!Array.isArray(list)) throw malformed('/api/replays');
    return list.filter(isReplaySummary);
  }

  /** Starts building the signed-in user's archive ("Download your data"). */
  async requestArchive(): Promise<ArchiveSummary> {
    return readArchive(await this.#call('POST', '/api/archives'), '/api/archives');
  }

  /** The signed-in user's newest archive, or null. */
  async latestArchive(): Promise<ArchiveSummary | null> {
    const body = await this.#call('GET', '/api/archives/latest');
    return isRecord(body) && body['archive'] === null ? null : readArchive(body, '/api/archives/latest');
  }

  /** One replay with its sources, download, chat and hearts. NOT_FOUND when missing or not visible. */
  async getReplay(id: BroadcastId): Promise<ReplayDetail> {
    const body = await this.#call('GET', `/api/replays/${encodeURIComponent(id)}`);
    const replay = readReplayDetail(body);
    if (!replay) throw malformed('/api/replays/:id');
    return replay;
  }

  // ---------------------------------------------------------- profiles --

  /** A user's profile. NOT_FOUND for unknown or deleted accounts. */
  async getProfile(username: string): Promise<Profile> {
    return readProfile(await this.#call('GET', `/api/users/${encodeURIComponent(username)}`));
  }

  /** One page of a user's replays as the caller may see them, newest first; `cursor`: the previous page's `nextCursor`. */
  async profileReplays(username: string, cursor: string | null): Promise<{ replays: ReplaySummary[]; nextCursor: string | null }> {
    const qs = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
    const body = await this.#call('GET', `/api/users/${encodeURIComponent(username)}/replays${qs}`);
    const list = isRecord(body) ? body['replays'] : undefined;
    const next = isRecord(body) ? body['nextCursor'] : undefined;
    if (!Array.isArray(list) || (next !== null && typeof next !== 'string')) throw malformed('/api/users/:username/replays');
    return { replays: list.filter(isReplaySummary), nextCursor: next };
  }

  /** One page of a profile's followers or of whom it follows, newest follow first. */
  async followList(username: string, side: 'followers' | 'following', cursor: string | null): Promise<FollowList> {
    const qs = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
    const body = await this.#call('GET', `/api/users/${encodeURIComponent(username)}/${side}${qs}`);
    const list = isRecord(body) ? body['people'] : undefined;
    const next = isRecord(body) ? body['nextCursor'] : undefined;
    if (!Array.isArray(list) || (next !== null && typeof next !== 'string')) throw malformed(`/api/users/:username/${side}`);
    return { people: list.filter((p: unknown): p is FollowList['people'][number] => isPersonSummary(p) && typeof (p as unknown as Record<string, unknown>)['since'] === 'string'), nextCursor: next };
  }

  /** Follows (`true`) or unfollows a user; idempotent. */
  async setFollowing(username: string, follow: boolean): Promise<FollowState> {
    const body = await this.#call(follow ? 'PUT' : 'DELETE', `/api/users/${encodeURIComponent(username)}/follow`);
    if (!isRecord(body) || typeof body['following'] !== 'boolean' || typeof body['followers'] !== 'number') throw malformed('/api/users/:username/follow');
    return { following: body['following'], followers: body['followers'] };
  }

  /** The signed-in user's own profile. */
  async ownProfile(): Promise<Profile> {
    return readProfile(await this.#call('GET', '/api/account/profile'));
  }

  /** Changes the signed-in user's display name and/or bio (an empty display name clears it). */
  async updateProfile(change: { displayName?: string; bio?: string }): Promise<Profile> {
    return readProfile(await this.#call('PATCH', '/api/account/profile', change));
  }

  /** Uploads an image as the signed-in user's avatar (the server checks and resizes it). */
  async uploadAvatar(file: Blob): Promise<Profile> {
    return readProfile(await this.#call('PUT', '/api/account/avatar', undefined, file));
  }

  /** Back to the generated avatar. */
  async removeAvatar(): Promise<Profile> {
    return readProfile(await this.#call('DELETE', '/api/account/avatar'));
  }

  /** The signed-in user's newest notifications and how many are unread. */
  async notifications(): Promise<NotificationList> {
    const body = await this.#call('GET', '/api/notifications');
    const list = isRecord(body) ? body['notifications'] : undefined;
    if (!Array.isArray(list) || !isRecord(body) || typeof body['unread'] !== 'number') throw malformed('/api/notifications');
    return { notifications: list.filter(isNotificationView), unread: body['unread'] };
  }

  /** Marks notifications read (these ids, or all); returns how many are still unread. */
  async markNotificationsRead(ids: string[] | 'all'): Promise<number> {
    const body = await this.#call('POST', '/api/notifications/read', ids === 'all' ? { all: true } : { ids });
    if (!isRecord(body) || typeof body['unread'] !== 'number') throw malformed('/api/notifications/read');
    return body['unread'];
  }

  async #call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, json?: unknown, blob?: Blob): Promise<unknown> {
    const init: RequestInit = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
    if (json !== undefined) {
      init.headers = { accept: 'application/json', 'content-type': 'application/json' };
      init.body = JSON.stringify(json);
    } else if (blob !== undefined) {
      init.headers = { accept: 'application/json', 'content-type': blob.type || 'application/octet-stream' };
      init.body = blob;
    }
    let res: Response;
    try {
      res = await this.#fetch(path, init);
    } catch {
      throw new ProtocolError({ code: 'UNAVAILABLE', message: 'the server cannot be reached' });
    }
    const text = await res.text();
    let body: unknown = undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    if (!res.ok) {
      const error = isRecord(body) ? body['error'] : undefined;
      if (isWireError(error)) throw new ProtocolError(error);
      throw new ProtocolError({
        code: res.status === 401 ? 'UNAUTHENTICATED' : res.status >= 500 ? 'INTERNAL' : 'BAD_REQUEST',
        message: `HTTP ${res.status} ${res.statusText}`.trim(),
      });
    }
    return body;
  }
}

function readUser(body: unknown): UserSummary {
  const user = isRecord(body) ? body['user'] : undefined;
  if (!isUserSummary(user)) throw malformed('/api/auth');
  return user;
}

function readNames(body: unknown): string[] {
  const list = isRecord(body) ? body['invitees'] : undefined;
  if (!Array.isArray(list)) throw malformed('/api/replays/:id');
  return list.filter((n): n is string => typeof n === 'string');
}

function isStreamKeyView(x: unknown): x is StreamKeyView {
  return (
    isRecord(x) &&
    typeof x['id'] === 'string' &&
    typeof x['name'] === 'string' &&
    typeof x['title'] === 'string' &&
    (x['visibility'] === 'public' || x['visibility'] === 'private') &&
    typeof x['createdAt'] === 'string' &&
    isStringOrNull(x['lastUsedAt'])
  );
}

function malformed(what: string): ProtocolError {
  return new ProtocolError({ code: 'INTERNAL', message: `unexpected response from ${what}` });
}

// ------------------------------------------------------------------ replays --
// Envelope checks like guards.ts (no zod): a foreign or broken response becomes a clear error.

const REPLAY_STATES: ReadonlySet<unknown> = new Set(['recording', 'processing', 'ready', 'failed']);
const CHAT_MESSAGE_ID = ID_PATTERNS.chatMessage;

const isStringOrNull = (x: unknown): x is string | null => x === null || typeof x === 'string';
const isFiniteNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

export function isReplaySummary(x: unknown): x is ReplaySummary {
  return (
    isRecord(x) &&
    isBroadcastId(x['id']) &&
    typeof x['title'] === 'string' &&
    isUserSummary(x['owner']) &&
    (x['visibility'] === 'public' || x['visibility'] === 'private') &&
    REPLAY_STATES.has(x['state']) &&
    typeof x['startedAt'] === 'string' &&
    isStringOrNull(x['endedAt']) &&
    (x['durationMs'] === null || isFiniteNumber(x['durationMs'])) &&
    isStringOrNull(x['posterUrl'])
  );
}

function isReplaySources(x: unknown): x is ReplaySources {
  return isRecord(x) && isStringOrNull(x['hls']) && isStringOrNull(x['mp4']) && isStringOrNull(x['videoMp4']) && isStringOrNull(x['webm']);
}

function isReplayDownload(x: unknown): x is ReplayDownload {
  return (
    isRecord(x) &&
    typeof x['url'] === 'string' &&
    typeof x['fileName'] === 'string' &&
    isFiniteNumber(x['sizeBytes']) &&
    typeof x['sha256'] === 'string'
  );
}

function isReplayChatMessage(x: unknown): x is ReplayChatMessage {
  return (
    isRecord(x) &&
    typeof x['id'] === 'string' &&
    CHAT_MESSAGE_ID.test(x['id']) &&
    isUserSummary(x['user']) &&
    typeof x['text'] === 'string' &&
    isFiniteNumber(x['offsetMs']) &&
    isFiniteNumber(x['atMs'])
  );
}

function isReplayHearts(x: unknown): x is ReplayHearts {
  return isRecord(x) && isFiniteNumber(x['atMs']) && isFiniteNumber(x['count']);
}

/**
 * The replay of a `GET /api/replays/:id` body (a `ReplayDetail`; a `{ replay }` wrapper is
 * accepted too), or null when the envelope is wrong. Chat messages and heart bursts that do
 * not fit are dropped rather than failing the page.
 */
export function readReplayDetail(body: unknown): ReplayDetail | null {
  const r = isRecord(body) && isRecord(body['replay']) ? body['replay'] : body;
  if (!isReplaySummary(r)) return null;
  const { reason, sources, download, chat, hearts } = r as unknown as Record<string, unknown>;
  if (!isStringOrNull(reason) || !isReplaySources(sources)) return null;
  if (download !== null && !isReplayDownload(download)) return null;
  if (!Array.isArray(chat) || !Array.isArray(hearts)) return null;
  return {
    ...r,
    reason,
    sources: { hls: sources.hls, mp4: sources.mp4, videoMp4: sources.videoMp4, webm: sources.webm },
    download,
    chat: chat.filter(isReplayChatMessage),
    hearts: hearts.filter(isReplayHearts),
  };
}

/** Reads `{ archive: ArchiveSummary }`. */
export function readArchive(body: unknown, path: string): ArchiveSummary {
  const a = isRecord(body) ? body['archive'] : undefined;
  if (!isRecord(a) || typeof a['id'] !== 'string' || typeof a['state'] !== 'string' || typeof a['percent'] !== 'number') throw malformed(path);
  return a as unknown as ArchiveSummary;
}

// ----------------------------------------------------------------- profiles --

export function isPersonSummary(x: unknown): x is PersonSummary {
  return isRecord(x) && isUserSummary(x) && isStringOrNull(x['displayName']) && typeof x['avatarUrl'] === 'string';
}

function readProfile(body: unknown): Profile {
  const p = isRecord(body) ? body['profile'] : undefined;
  if (
    !isRecord(p) ||
    !isPersonSummary(p) ||
    typeof p['bio'] !== 'string' ||
    typeof p['joinedAt'] !== 'string' ||
    typeof p['followers'] !== 'number' ||
    typeof p['following'] !== 'number' ||
    (p['live'] !== null && !(isRecord(p['live']) && isBroadcastId(p['live']['id']) && typeof p['live']['title'] === 'string')) ||
    (p['followedByYou'] !== null && typeof p['followedByYou'] !== 'boolean')
  ) {
    throw malformed('/api/users/:username');
  }
  return p as unknown as Profile;
}

export function isNotificationView(x: unknown): x is NotificationView {
  return (
    isRecord(x) &&
    typeof x['id'] === 'string' &&
    x['kind'] === 'live' &&
    isPersonSummary(x['actor']) &&
    isRecord(x['broadcast']) &&
    isBroadcastId(x['broadcast']['id']) &&
    typeof x['broadcast']['title'] === 'string' &&
    typeof x['createdAt'] === 'string' &&
    typeof x['read'] === 'boolean'
  );
}
