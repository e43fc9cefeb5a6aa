import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import type { BroadcastSummary, ChatMessage, UserSummary } from '../../common/protocol/events.ts';
import { ERROR_CODES, type ErrorCode, type JoinRedirect, type WireError } from '../../common/protocol/errors.ts';
import { ID_PATTERNS, isHttpOrigin } from '../../common/protocol/rules.ts';

/**
 * Runtime shape checks for what the browser reads from the network.
 *
 * The server validates and types everything it sends; these guards check the envelope
 * without zod (which would add ~26 kB gzipped to every page) so a broken or foreign
 * response becomes a clear error instead of a crash deep inside a page.
 */

const BROADCAST_ID = ID_PATTERNS.broadcast;
const USER_ID = ID_PATTERNS.user;
const CHAT_MESSAGE_ID = ID_PATTERNS.chatMessage;

/** A plain object (not null, not an array). */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Same rule as `BroadcastIdSchema`. */
export function isBroadcastId(x: unknown): x is BroadcastId {
  return typeof x === 'string' && BROADCAST_ID.test(x);
}

/** Same rule as `UserIdSchema`. */
export function isUserId(x: unknown): x is UserId {
  return typeof x === 'string' && USER_ID.test(x);
}

/** A key of the error catalog. */
export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && Object.hasOwn(ERROR_CODES, x);
}

/** `{ code, message }` with a known code. */
export function isWireError(x: unknown): x is WireError {
  return isRecord(x) && isErrorCode(x['code']) && typeof x['message'] === 'string';
}

export function isUserSummary(x: unknown): x is UserSummary {
  return isRecord(x) && isUserId(x['id']) && typeof x['username'] === 'string';
}

const STATUSES: ReadonlySet<unknown> = new Set(['live', 'reconnecting', 'ended']);
const SOURCES: ReadonlySet<unknown> = new Set(['browser', 'whip', 'rtmp']);

export function isBroadcastSummary(x: unknown): x is BroadcastSummary {
  return (
    isRecord(x) &&
    isBroadcastId(x['id']) &&
    typeof x['title'] === 'string' &&
    (x['visibility'] === 'public' || x['visibility'] === 'private') &&
    isUserSummary(x['owner']) &&
    STATUSES.has(x['status']) &&
    typeof x['startedAt'] === 'string' &&
    (x['endedAt'] === null || typeof x['endedAt'] === 'string') &&
    typeof x['viewerCount'] === 'number' &&
    SOURCES.has(x['source'])
  );
}

export function isChatMessage(x: unknown): x is ChatMessage {
  return (
    isRecord(x) &&
    typeof x['id'] === 'string' &&
    CHAT_MESSAGE_ID.test(x['id']) &&
    isBroadcastId(x['broadcastId']) &&
    isUserSummary(x['user']) &&
    typeof x['text'] === 'string' &&
    typeof x['offsetMs'] === 'number' &&
    typeof x['sentAt'] === 'string'
  );
}

/** A `REDIRECT`'s target: an http(s) origin (the rules of `JoinRedirectSchema`). */
export function isJoinRedirect(x: unknown): x is JoinRedirect {
  return isRecord(x) && typeof x['url'] === 'string' && x['url'].length <= 2048 && isHttpOrigin(x['url']);
}
