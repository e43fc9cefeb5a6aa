/**
 * The error catalog: every error a client can see has a stable string code.
 * Browser-safe (no Node imports); the server maps codes to HTTP statuses in common/errors.ts.
 */
export const ERROR_CODES = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  PAYLOAD_TOO_LARGE: 413,
  /** HTTP: a body in a charset or content encoding the server does not read. */
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNKNOWN_EVENT: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  USERNAME_TAKEN: 409,
  ALREADY_LIVE: 409,
  BROADCAST_ENDED: 410,
  NOT_JOINED: 409,
  WRONG_STATE: 409,
  RATE_LIMITED: 429,
  ARCHIVE_IN_PROGRESS: 409,
  LINK_EXPIRED: 410,
  /** A replay its owner deleted (410 Gone): to everyone when it was public, to the owner only when private. */
  REPLAY_DELETED: 410,
  /** An uploaded avatar that is not a JPEG, PNG, WebP or GIF image (checked with ffprobe, whatever its Content-Type says). */
  NOT_AN_IMAGE: 415,
  MEDIA_ERROR: 500,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  INSUFFICIENT_STORAGE: 507,
  /** The caller's account is suspended by an admin (the message carries the reason): no going live, no chat. */
  SUSPENDED: 403,
  /** The broadcast's chat is for the broadcaster's followers only, and the caller does not follow them. */
  FOLLOWERS_ONLY: 403,
  /** The service is closing down (sunset mode): this action is no longer available. */
  SERVICE_SUNSET: 403,
  /**
   * `broadcast:join` only (several nodes): this node is loaded and another is not; the error
   * carries `redirect` (where to join instead). Never an HTTP answer.
   */
  REDIRECT: 307,
  /**
   * WHIP (docs/ingest.md): an SDP offer that parses but cannot be taken — no codec the server
   * receives, more media than one audio and one video, no video, no SSRC or RID — 422
   * Unprocessable Content; the message names what was offered and what is accepted.
   */
  UNSUPPORTED_OFFER: 422,
  /** HTTP: an `If-Match` that does not match the resource's current ETag (WHIP PATCH). */
  PRECONDITION_FAILED: 412,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Where a loaded node sends a viewer to join instead (docs/protocol.md, "Join redirection"). */
export interface JoinRedirect {
  /** The node's own URL (an origin: scheme, host, port): connect socket.io there and join again. */
  url: string;
}

/** The wire shape of an error in acks and HTTP bodies. */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** With `REDIRECT` only. */
  redirect?: JoinRedirect;
}

/** Every socket.io request is acknowledged with exactly this shape. */
export type Ack<T> = { ok: true; data: T } | { ok: false; error: WireError };

/** A typed error a browser client can throw after reading an `{ ok: false }` ack. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  /** With `REDIRECT`: where to join instead, as the server sent it (check it before use). */
  readonly redirect: unknown;
  constructor(error: WireError) {
    super(error.message);
    this.name = 'ProtocolError';
    this.code = error.code;
    this.redirect = error.redirect;
  }
}
