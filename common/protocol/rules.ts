/**
 * The protocol's rules as plain values, with no zod: the schemas in ids.ts and events.ts are
 * built from these, and the browser imports them directly without pulling zod into its bundle.
 */

/** Limits that the server enforces and the browser shows. */
export const LIMITS = {
  titleMax: 120,
  chatMax: 500,
  inviteesMax: 50,
  /** Slow mode: at most one chat message per this many seconds per person (0 is off). */
  slowModeMaxSeconds: 300,
  /** Largest socket.io message the server accepts, in bytes. */
  maxMessageBytes: 64 * 1024,
} as const;

/** Stream keys (docs/ingest.md): a key's name, and how many unrevoked keys one person may hold. */
export const STREAM_KEY_LIMITS = { nameMax: 60, perUser: 20 } as const;

/** Id formats: a prefix and 8–40 base64url characters. */
export const ID_PATTERNS = {
  user: /^u_[A-Za-z0-9_-]{8,40}$/,
  broadcast: /^b_[A-Za-z0-9_-]{8,40}$/,
  chatMessage: /^m_[A-Za-z0-9_-]{8,40}$/,
  report: /^r_[A-Za-z0-9_-]{8,40}$/,
} as const;

/** Reports (docs/moderation.md): the free text beside the category, and an admin's suspension reason. */
export const REPORT_LIMITS = { detailsMax: 500, suspensionReasonMax: 500 } as const;

/** What can be reported: a broadcast (live or not), a replay, or one chat message. */
export const REPORT_KINDS = ['broadcast', 'replay', 'message'] as const;

/** The fixed report categories, with the label a page shows for each. */
export const REPORT_REASONS = {
  spam: 'Spam or scam',
  harassment: 'Harassment or bullying',
  hate: 'Hate speech',
  violence: 'Violence or threats',
  sexual: 'Sexual content',
  'self-harm': 'Self-harm or suicide',
  illegal: 'Illegal activity',
  other: 'Something else',
} as const;

/** Usernames: 3–32 letters, digits, `_`, `.` or `-` (after trimming); unique case-insensitively. */
export const USERNAME_RULES = { min: 3, max: 32, pattern: /^[A-Za-z0-9_.-]+$/ } as const;

/**
 * Profiles: a display name (single line, optional), a bio (a few lines), an avatar image
 * uploaded as it is (at most `avatarMaxBytes`), made into a `avatarSize`² JPEG by the server.
 */
export const PROFILE_RULES = { displayNameMax: 50, bioMax: 300, avatarMaxBytes: 5 * 1024 * 1024, avatarSize: 256 } as const;

/** Password length bounds at sign-up. */
export const PASSWORD_RULES = { min: 8, max: 256 } as const;

/**
 * Characters refused in stored single-line text (titles, chat messages, names): every C0
 * control (tab and newline included), DEL, every C1 control, and U+2028/U+2029. They have no
 * business on one line, some databases refuse U+0000, and terminals and logs interpret others.
 */
const SINGLE_LINE_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/** In multi-line text (the sunset message) tab, newline and carriage return are allowed. */
const MULTI_LINE_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Why `text` may not be stored, or undefined when it may: names the first control character,
 * e.g. `must not contain control characters (found U+0000)`.
 */
export function controlCharProblem(text: string, multiLine = false): string | undefined {
  const m = (multiLine ? MULTI_LINE_FORBIDDEN : SINGLE_LINE_FORBIDDEN).exec(text);
  if (!m) return undefined;
  const code = m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
  return `must not contain control characters (found U+${code})`;
}

/**
 * Whether `text` is an http(s) origin — scheme, host, optional port, nothing else (a trailing
 * `/` is allowed): what `http.allowedOrigins`, `cluster.nodeUrl` and a join redirect's `url`
 * hold. A path would make socket.io read it as a namespace.
 */
export function isHttpOrigin(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === text.replace(/\/$/, '');
  } catch {
    return false;
  }
}
