import { randomBytes } from 'node:crypto';
import {
  BroadcastIdSchema,
  ChatMessageIdSchema,
  ReportIdSchema,
  UserIdSchema,
  type BroadcastId,
  type ChatMessageId,
  type ReportId,
  type UserId,
} from '../../common/protocol/ids.ts';

// 12 random bytes = 96 bits = 16 base64url characters: collisions are not a practical concern.
function random16(): string {
  return randomBytes(12).toString('base64url');
}

/** A fresh `u_…` id. */
export function newUserId(): UserId {
  return UserIdSchema.parse(`u_${random16()}`);
}

/** A fresh `b_…` id. */
export function newBroadcastId(): BroadcastId {
  return BroadcastIdSchema.parse(`b_${random16()}`);
}

/** A fresh `m_…` id. */
export function newChatMessageId(): ChatMessageId {
  return ChatMessageIdSchema.parse(`m_${random16()}`);
}

/** A fresh `n_…` notification (event) id. */
export function newNotificationId(): string {
  return `n_${random16()}`;
}

/** A fresh `r_…` id. */
export function newReportId(): ReportId {
  return ReportIdSchema.parse(`r_${random16()}`);
}
