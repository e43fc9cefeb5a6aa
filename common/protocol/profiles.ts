import { z } from 'zod';
import type { BroadcastId, UserId } from './ids.ts';
import { controlCharProblem, PROFILE_RULES } from './rules.ts';

/** Profiles, following and notifications: the wire shapes (docs/http-api.md, "Profiles"). */

export { PROFILE_RULES };

/** A user as profiles, notifications and follow lists show them. */
export interface PersonSummary {
  id: UserId;
  username: string;
  /** What they chose to be called; null: show the username. */
  displayName: string | null;
  /** Their uploaded avatar, or the generated one. */
  avatarUrl: string;
}

/** `GET /api/users/:username`. */
export interface Profile extends PersonSummary {
  bio: string;
  /** When the account was made (ISO-8601 UTC). */
  joinedAt: string;
  followers: number;
  following: number;
  /** Their broadcast on air now (watch at `/watch/<id>`), if the caller may see it; else null. */
  live: { id: BroadcastId; title: string; startedAt: string; viewerCount: number } | null;
  /** Whether the caller follows them; null when signed out or for oneself. */
  followedByYou: boolean | null;
}

/** `PUT` / `DELETE /api/users/:username/follow`. */
export interface FollowState {
  following: boolean;
  followers: number;
}

/** `GET /api/users/:username/followers` and `…/following`: one page, newest follow first. */
export interface FollowList {
  people: Array<PersonSummary & { /** When the follow began (ISO-8601 UTC). */ since: string }>;
  /** Fetches the next page (`?cursor=`); null on the last one. */
  nextCursor: string | null;
}

/** One notification. `kind: 'live'`: `actor` went live in `broadcast` (watch at `/watch/<id>`). */
export interface NotificationView {
  id: string;
  kind: 'live';
  actor: PersonSummary;
  broadcast: { id: BroadcastId; title: string };
  createdAt: string;
  read: boolean;
}

/** `GET /api/notifications`: the newest first, and how many are unread in all. */
export interface NotificationList {
  notifications: NotificationView[];
  unread: number;
}

const singleLine = (field: string) => (text: string, ctx: z.RefinementCtx<string>) => {
  const problem = controlCharProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: `${field} ${problem}` });
};
const multiLine = (field: string) => (text: string, ctx: z.RefinementCtx<string>) => {
  const problem = controlCharProblem(text, true);
  if (problem) ctx.addIssue({ code: 'custom', message: `${field} ${problem}` });
};

/** `PATCH /api/account/profile`: an empty display name clears it (the username is shown). */
export const ProfileChangeSchema = z
  .strictObject({
    displayName: z
      .string()
      .trim()
      .max(PROFILE_RULES.displayNameMax, `display name must be at most ${PROFILE_RULES.displayNameMax} characters`)
      .superRefine(singleLine('display name'))
      .optional(),
    bio: z
      .string()
      .trim()
      .max(PROFILE_RULES.bioMax, `bio must be at most ${PROFILE_RULES.bioMax} characters`)
      .superRefine(multiLine('bio'))
      .optional(),
  })
  .refine((c) => c.displayName !== undefined || c.bio !== undefined, { message: 'nothing to change: give a displayName or a bio' });
export type ProfileChange = z.infer<typeof ProfileChangeSchema>;

/** Notification ids: `n_` + 8–40 base64url characters. */
export const NotificationIdSchema = z.string().regex(/^n_[A-Za-z0-9_-]{8,40}$/, 'not a notification id');

/** `POST /api/notifications/read`: these (at most 100), or all of them. */
export const MarkReadSchema = z.union([
  z.strictObject({ ids: z.array(NotificationIdSchema).min(1, 'ids: give at least one').max(100, 'ids: at most 100') }),
  z.strictObject({ all: z.literal(true) }),
]);
