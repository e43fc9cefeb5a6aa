import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { BroadcastIdSchema, ChatMessageIdSchema, type BroadcastId, type ChatMessageId, type ReportId, type UserId } from '../../common/protocol/ids.ts';
import type { AdminReport, ReportAction, ReportContext, ReportCreate, ReportSummary, SuspendedUser, Suspension } from '../../common/protocol/reports.ts';
import type { BroadcastRecord } from '../store/BroadcastStore.ts';
import type { Stores } from '../store/index.ts';
import type { ReportRecord } from '../store/ReportStore.ts';
import type { UserRecord } from '../store/UserStore.ts';
import type { Throttle } from '../throttle/RateLimits.ts';
import type { AdminEndReason, ModerationReach } from './ports.ts';

/** What moderation needs of the live domain (LiveService). */
export interface LiveModeration {
  /** Ends a broadcast at once for an admin; resolves whether it was live. */
  endBroadcast(id: BroadcastId, reason: 'ended-by-admin' | 'account-suspended'): Promise<boolean>;
  /** Ends the user's live broadcast, if any; resolves its id. */
  endLiveOf(userId: UserId, reason: 'account-suspended'): Promise<BroadcastId | undefined>;
}

/** What moderation needs of replay deletion (ReplayRemoval): the owner's own deletion, tombstone and files. */
export interface ReplayDeletion {
  delete(broadcastId: BroadcastId): Promise<unknown>;
}

/**
 * Removes one chat message for an admin (it disappears live and from the replay): the one
 * seam where chat-message removal, built separately, is wired in (signaling/server.ts).
 * Resolves whether the message existed.
 */
export type ChatMessageRemover = (messageId: ChatMessageId, admin: UserRecord) => Promise<boolean>;

export interface ModerationOptions {
  stores: Stores;
  live: LiveModeration;
  /** Tells the other nodes to close a broadcast this node ended for an admin (absent: one node). */
  reach?: Pick<ModerationReach, 'endEverywhere'> | undefined;
  replays: ReplayDeletion;
  logger: Logger;
  /** Reports per user per window (docs/security.md); absent: unlimited. */
  reportLimit?: Throttle | undefined;
  /** Removes a reported chat message as its broadcaster would (signaling/moderation/ChatModeration.ts). */
  removeChatMessage: ChatMessageRemover;
}

/** Lines shown before and after a reported chat message. */
const CONTEXT_LINES = 3;

/** The one answer for an item that does not exist or that the reporter may not see (no oracle). */
const missing = (kind: ReportCreate['kind']) => new AppError('NOT_FOUND', kind === 'message' ? 'message not found' : kind === 'replay' ? 'replay not found' : 'broadcast not found');

function toSummary(r: ReportRecord): ReportSummary {
  return { id: r.id, kind: r.kind, targetId: r.targetId, reason: r.reason, details: r.details, state: r.state, createdAt: r.createdAt };
}

/**
 * Reports, the admins' queue and suspension (docs/moderation.md). Signed-in users report what
 * they can see; admins act on a report's item — dismiss, remove, end the broadcast, suspend
 * its owner — and every action lands in the audit log. Callers (the HTTP routes) have checked
 * who is calling: a signed-in user for `report`, an admin for everything else.
 */
export class Moderation {
  readonly #o: ModerationOptions;

  constructor(o: ModerationOptions) {
    this.#o = o;
  }

  // ------------------------------------------------------------- users --

  /**
   * Reports an item the user can see. An item they cannot see (private, deleted, unknown)
   * answers NOT_FOUND exactly like one that never existed. Reporting the same item again
   * answers the first report (`created: false`) and costs no allowance; a new report spends one
   * (RATE_LIMITED past `reportLimit`). One's own item cannot be reported (VALIDATION_FAILED).
   */
  async report(user: UserRecord, input: ReportCreate): Promise<{ report: ReportSummary; created: boolean }> {
    const { stores } = this.#o;
    const { broadcast, targetUserId } = await this.#target(user, input);
    if (targetUserId === user.id) throw new AppError('VALIDATION_FAILED', `you cannot report your own ${input.kind}`);
    // Idempotent: the same user reporting the same item again gets the first report, for free.
    const earlier = await stores.reports.findByReporter(user.id, input.kind, input.id);
    if (earlier) return { report: toSummary(earlier), created: false };
    await this.#o.reportLimit?.take(user.id);
    const { report, created } = await stores.reports.create({
      reporterId: user.id,
      kind: input.kind,
      targetId: input.id,
      broadcastId: broadcast.id,
      targetUserId,
      reason: input.reason,
      details: input.details,
    });
    if (created) this.#o.logger.info({ reportId: report.id, kind: input.kind, targetId: input.id, reporterId: user.id }, 'report filed');
    return { report: toSummary(report), created };
  }

  // ------------------------------------------------------------ admins --

  /** The queue: open reports oldest first, or resolved ones newest first, each with its item in context. */
  async queue(state: 'open' | 'resolved', limit: number): Promise<AdminReport[]> {
    const reports = await this.#o.stores.reports.list(state, limit);
    const counts = await this.#o.stores.reports.openCounts(reports);
    return Promise.all(reports.map((r) => this.#adminView(r, counts.get(`${r.kind}:${r.targetId}`) ?? 0)));
  }

  /** One report, as the queue shows it. */
  async get(id: ReportId): Promise<AdminReport> {
    const r = await this.#o.stores.reports.get(id);
    if (!r) throw new AppError('NOT_FOUND', 'report not found');
    const counts = await this.#o.stores.reports.openCounts([r]);
    return this.#adminView(r, counts.get(`${r.kind}:${r.targetId}`) ?? 0);
  }

  /**
   * An admin acts on a report's item; every open report of the item is resolved with it.
   * - `dismiss`: nothing is done to the item (WRONG_STATE when the report is resolved already).
   * - `remove`: a chat message → removed for everyone, as its broadcaster would; a broadcast on
   *   air → ended; an ended broadcast or a replay → its replay deleted as its owner
   *   would (ended first if still on air). An item already gone counts as removed.
   * - `end`: ends the broadcast the item belongs to (WRONG_STATE when it is not live).
   * - `suspend`: suspends the item's owner (the broadcaster, or the message's author).
   */
  async act(admin: UserRecord, id: ReportId, action: ReportAction): Promise<AdminReport> {
    const { stores } = this.#o;
    const r = await stores.reports.get(id);
    if (!r) throw new AppError('NOT_FOUND', 'report not found');
    const item = { reportId: r.id, kind: r.kind, targetId: r.targetId, broadcastId: r.broadcastId };
    const resolve = (state: 'dismissed' | 'actioned', resolution: string) => stores.reports.resolveItem(r.kind, r.targetId, { state, by: admin.id, resolution });
    switch (action.action) {
      case 'dismiss': {
        if (r.state !== 'open') throw new AppError('WRONG_STATE', 'this report was resolved already');
        const resolved = await resolve('dismissed', 'dismissed');
        await this.#audit(admin, 'report.dismiss', { ...item, resolved });
        break;
      }
      case 'remove': {
        const done = await this.#remove(admin, r);
        const resolved = await resolve('actioned', done);
        await this.#audit(admin, 'report.remove', { ...item, done, resolved });
        break;
      }
      case 'end': {
        if (!(await this.#end(r.broadcastId, 'ended-by-admin'))) throw new AppError('WRONG_STATE', 'the broadcast is not live');
        const resolved = await resolve('actioned', 'ended');
        await this.#audit(admin, 'report.end', { ...item, resolved });
        break;
      }
      case 'suspend': {
        await this.suspend(admin, r.targetUserId, action.reason, r.id);
        await resolve('actioned', 'suspended');
        break;
      }
    }
    return this.get(id);
  }

  /**
   * Suspends an account: from now on it cannot go live or chat (nor follow), and its broadcast
   * on air, if any, ends at once. Suspending a suspended account replaces the reason. An admin
   * cannot suspend themself (VALIDATION_FAILED); an unknown account is NOT_FOUND.
   */
  async suspend(admin: UserRecord, userId: UserId, reason: string, reportId?: ReportId): Promise<Suspension> {
    const { stores } = this.#o;
    if (userId === admin.id) throw new AppError('VALIDATION_FAILED', 'you cannot suspend yourself');
    const target = await stores.users.findById(userId);
    if (!target || !(await stores.suspensions.suspend(userId, reason, admin.id))) throw new AppError('NOT_FOUND', 'user not found');
    // After the row exists: a go-live racing this sees it (LiveService re-checks after starting).
    const ended = await this.#o.live.endLiveOf(userId, 'account-suspended');
    if (ended) this.#o.reach?.endEverywhere(ended, 'account-suspended');
    await this.#audit(admin, 'user.suspend', { user: { id: target.id, username: target.username }, reason, ...(reportId ? { reportId } : {}), ...(ended ? { endedBroadcast: ended } : {}) });
    this.#o.logger.warn({ userId, adminId: admin.id, endedBroadcast: ended }, 'account suspended');
    const suspension = await stores.suspensions.get(userId);
    if (!suspension) throw new AppError('NOT_FOUND', 'user not found');
    return suspension;
  }

  /** Lifts a suspension; resolves whether there was one (idempotent). NOT_FOUND for an unknown account. */
  async unsuspend(admin: UserRecord, userId: UserId): Promise<boolean> {
    const target = await this.#o.stores.users.findById(userId);
    if (!target) throw new AppError('NOT_FOUND', 'user not found');
    const lifted = await this.#o.stores.suspensions.unsuspend(userId);
    if (lifted) await this.#audit(admin, 'user.unsuspend', { user: { id: target.id, username: target.username } });
    return lifted;
  }

  /** Every suspended account. */
  suspended(): Promise<SuspendedUser[]> {
    return this.#o.stores.suspensions.list();
  }

  // ----------------------------------------------------------- private --

  /** The reported item's broadcast and owner, if the user may see it; else the one NOT_FOUND. */
  async #target(user: UserRecord, input: ReportCreate): Promise<{ broadcast: BroadcastRecord; targetUserId: UserId }> {
    const { stores } = this.#o;
    if (input.kind === 'message') {
      const message = await stores.chat.find(ChatMessageIdSchema.parse(input.id));
      const broadcast = message && (await stores.broadcasts.get(message.broadcastId));
      if (!message || !broadcast || !stores.broadcasts.canView(broadcast, user.id)) throw missing('message');
      return { broadcast, targetUserId: message.user.id };
    }
    const broadcast = await stores.broadcasts.get(BroadcastIdSchema.parse(input.id));
    if (!broadcast || !stores.broadcasts.canView(broadcast, user.id)) throw missing(input.kind);
    if (input.kind === 'replay' && !(await stores.replays.get(broadcast.id))) throw missing('replay');
    return { broadcast, targetUserId: broadcast.ownerId };
  }

  async #remove(admin: UserRecord, r: ReportRecord): Promise<string> {
    if (r.kind === 'message') {
      const existed = await this.#o.removeChatMessage(ChatMessageIdSchema.parse(r.targetId), admin);
      return existed ? 'removed' : 'gone';
    }
    const b = await this.#o.stores.broadcasts.get(r.broadcastId);
    if (!b) return 'gone';
    const onAir = b.status !== 'ended';
    if (onAir) await this.#end(b.id, 'ended-by-admin');
    // A live broadcast reported as a broadcast is ended; anything else goes with its replay.
    if (r.kind === 'broadcast' && onAir) return 'ended';
    await this.#o.replays.delete(b.id);
    return onAir ? 'ended and deleted' : 'deleted';
  }

  /** Ends a live broadcast for an admin, here or in the database, and on whichever node it is on air. */
  async #end(id: BroadcastId, reason: AdminEndReason): Promise<boolean> {
    const wasLive = await this.#o.live.endBroadcast(id, reason);
    if (wasLive) this.#o.reach?.endEverywhere(id, reason);
    return wasLive;
  }

  async #audit(admin: UserRecord, action: string, details: Record<string, unknown>): Promise<void> {
    await this.#o.stores.audit.record(admin.id, action, { username: admin.username, ...details });
  }

  async #adminView(r: ReportRecord, openReports: number): Promise<AdminReport> {
    const { stores } = this.#o;
    const [owner, broadcast, replay, suspension] = await Promise.all([
      stores.users.findById(r.targetUserId),
      stores.broadcasts.get(r.broadcastId),
      stores.replays.get(r.broadcastId),
      stores.suspensions.get(r.targetUserId),
    ]);
    const context: ReportContext = {
      broadcast: broadcast
        ? {
            id: broadcast.id,
            title: broadcast.title,
            owner: { id: broadcast.ownerId, username: broadcast.ownerUsername },
            visibility: broadcast.visibility,
            status: broadcast.status,
            startedAt: broadcast.startedAt,
            endedAt: broadcast.endedAt,
            replayState: replay?.state ?? null,
          }
        : null,
      message: null,
      around: [],
      ownerSuspended: suspension !== undefined,
    };
    if (r.kind === 'message' && broadcast) {
      const lines = await stores.chat.around(ChatMessageIdSchema.parse(r.targetId), CONTEXT_LINES);
      context.around = lines.map((m) => ({ id: m.id, author: m.user, text: m.text, sentAt: m.sentAt, reported: m.id === r.targetId }));
      const reported = lines.find((m) => m.id === r.targetId);
      context.message = reported ? { id: reported.id, author: reported.user, text: reported.text, sentAt: reported.sentAt } : null;
    }
    return {
      ...toSummary(r),
      reporter: { id: r.reporterId, username: r.reporterUsername },
      targetUser: { id: r.targetUserId, username: owner?.username ?? null },
      openReports,
      resolvedAt: r.resolvedAt,
      resolution: r.resolution,
      context,
    };
  }
}
