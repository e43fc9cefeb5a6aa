/**
 * The protocol's rules as plain values, with no zod: the schemas in ids.ts and events.ts are
 * built from these, and the browser imports them directly without pulling zod into its bundle.
 */

/** Limits that the server enforces and the browser shows. */
export const LIMITS = {
  titleMax: 120,
  chatMax: 500,
  inviteesMax: 50,
  /** Largest socket.io message the server accepts, in bytes. */
  maxMessageBytes: 64 * 1024,
} as const;

/** Id formats: a prefix and 8–40 base64url characters. */
export const ID_PATTERNS = {
  user: /^u_[A-Za-z0-9_-]{8,40}$/,
  broadcast: /^b_[A-Za-z0-9_-]{8,40}$/,
  chatMessage: /^m_[A-Za-z0-9_-]{8,40}$/,
} as const;

/** Usernames: 3–32 letters, digits, `_`, `.` or `-` (after trimming); unique case-insensitively. */
export const USERNAME_RULES = { min: 3, max: 32, pattern: /^[A-Za-z0-9_.-]+$/ } as const;

/** Password length bounds at sign-up. */
export const PASSWORD_RULES = { min: 8, max: 256 } as const;
