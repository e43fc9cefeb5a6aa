/**
 * The limits of `LIMITS` in common/protocol/events.ts that the browser shows.
 *
 * Copied, not imported: events.ts builds zod schemas at module load, so importing one
 * constant from it would put all of zod (~26 kB gzipped) into every page. A unit test
 * (test/unit/web/limits.test.ts) fails when the two drift apart.
 */
export const WEB_LIMITS = {
  titleMax: 120,
  chatMax: 500,
  inviteesMax: 50,
} as const;

/** Username rules of `UsernameSchema` (common/protocol/ids.ts), for hints in forms. */
export const USERNAME_RULES = {
  min: 3,
  max: 32,
  pattern: /^[A-Za-z0-9_.-]+$/,
} as const;

/** Minimum password length of `SignUpSchema`. */
export const PASSWORD_MIN = 8;
