import { z } from 'zod';
import { withoutControls, type BroadcastSummary, type UserSummary, type Visibility } from './events.ts';
import type { BroadcastId, ChatMessageId, ReportId, UserId } from './ids.ts';
import type { ReplayState } from './replays.ts';
import { ID_PATTERNS, REPORT_KINDS, REPORT_LIMITS, REPORT_REASONS } from './rules.ts';

/**
 * Reports, the admins' queue and suspensions (docs/moderation.md, docs/http-api.md). The
 * schemas are the server's; the browser imports only the types (and rules.ts for the values).
 */

export const ReportKindSchema = z.enum(REPORT_KINDS);
export type ReportKind = z.infer<typeof ReportKindSchema>;

const REASONS = Object.keys(REPORT_REASONS) as [keyof typeof REPORT_REASONS, ...(keyof typeof REPORT_REASONS)[]];
export const ReportReasonSchema = z.enum(REASONS, { error: `must be one of: ${REASONS.join(', ')}` });
export type ReportReason = z.infer<typeof ReportReasonSchema>;

/** Free text: one paragraph (tab and newline allowed, other controls not), bounded. */
const details = withoutControls(
  z.string().trim().max(REPORT_LIMITS.detailsMax, `details must be at most ${REPORT_LIMITS.detailsMax} characters`),
  true,
);

/**
 * `POST /api/reports`: `id` is a broadcast id (`b_…`) for a broadcast or a replay, a message id
 * (`m_…`) for a chat message.
 */
export const ReportCreateSchema = z
  .strictObject({
    kind: ReportKindSchema,
    id: z.string().max(64),
    reason: ReportReasonSchema,
    details: details.default(''),
  })
  .superRefine((r, ctx) => {
    const pattern = r.kind === 'message' ? ID_PATTERNS.chatMessage : ID_PATTERNS.broadcast;
    if (!pattern.test(r.id)) ctx.addIssue({ code: 'custom', path: ['id'], message: r.kind === 'message' ? 'not a message id' : 'not a broadcast id' });
  });
export type ReportCreate = z.infer<typeof ReportCreateSchema>;

/** An admin's suspension reason: shown to the user. */
export const SuspensionReasonSchema = withoutControls(
  z
    .string()
    .trim()
    .min(1, 'a reason is required: the user is shown it')
    .max(REPORT_LIMITS.suspensionReasonMax, `reason must be at most ${REPORT_LIMITS.suspensionReasonMax} characters`),
  true,
);

/** `POST /api/admin/reports/:id`: what an admin does with a report (and every open report of the same item). */
export const ReportActionSchema = z.discriminatedUnion(
  'action',
  [
    z.strictObject({ action: z.literal('dismiss') }),
    z.strictObject({ action: z.literal('remove') }),
    z.strictObject({ action: z.literal('end') }),
    z.strictObject({ action: z.literal('suspend'), reason: SuspensionReasonSchema }),
  ],
  { error: 'action must be one of: dismiss, remove, end, suspend' },
);
export type ReportAction = z.infer<typeof ReportActionSchema>;

/** `PUT /api/admin/users/:id/suspension`. */
export const SuspendSchema = z.strictObject({ reason: SuspensionReasonSchema });

export type ReportState = 'open' | 'dismissed' | 'actioned';

/** A report as its reporter sees it. */
export interface ReportSummary {
  id: ReportId;
  kind: ReportKind;
  /** The broadcast id (broadcast, replay) or the message id. */
  targetId: string;
  reason: ReportReason;
  details: string;
  state: ReportState;
  createdAt: string;
}

/** Why an account is suspended, as its owner (and admins) see it. */
export interface Suspension {
  reason: string;
  /** ISO-8601 UTC. */
  since: string;
}

/** The reported item as an admin sees it; `null` once it no longer exists (deleted). */
export interface ReportContext {
  broadcast: {
    id: BroadcastId;
    title: string;
    owner: UserSummary;
    visibility: Visibility;
    status: BroadcastSummary['status'];
    startedAt: string;
    endedAt: string | null;
    /** The replay's state, null when it has none. */
    replayState: ReplayState | null;
  } | null;
  /** For a chat message: the message and a few lines around it (oldest first; `reported` marks it). */
  message: { id: ChatMessageId; author: UserSummary; text: string; sentAt: string } | null;
  around: Array<{ id: ChatMessageId; author: UserSummary; text: string; sentAt: string; reported: boolean }>;
  /** Whether the item's owner (the broadcaster, or the message's author) is suspended now. */
  ownerSuspended: boolean;
}

/** One report in the admins' queue, with its item in context. */
export interface AdminReport extends ReportSummary {
  reporter: UserSummary;
  /** Who the item belongs to (the broadcaster, or the message's author): whom "suspend" suspends. */
  targetUser: { id: UserId; username: string | null };
  /** Open reports of the same item, this one included. */
  openReports: number;
  resolvedAt: string | null;
  resolution: string | null;
  context: ReportContext;
}

/** A suspended account in the admins' list. */
export interface SuspendedUser {
  user: { id: UserId; username: string };
  reason: string;
  since: string;
  by: string;
}
