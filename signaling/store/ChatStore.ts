import type { Kysely } from 'kysely';
import { AppError } from '../../common/errors.ts';
import type { ChatMessage } from '../../common/protocol/events.ts';
import type { BroadcastId, ChatMessageId, UserId } from '../../common/protocol/ids.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isForeignKeyViolation } from './dbErrors.ts';
import { newChatMessageId } from './newIds.ts';
import type { ChatRemovedAs, DB } from './schema.ts';

/** A heart batch: `count` hearts in the flush interval starting at `offsetMs`. */
export interface HeartBatch {
  offsetMs: number;
  count: number;
}

/** A message with how it was removed (archives only: live chat and replays never show removed messages). */
export type ArchivedChatMessage = ChatMessage & {
  /** Removed by the broadcaster or an admin: when, and in what right; null while it shows. */
  removed: { as: ChatRemovedAs; at: string } | null;
};

// Offsets are whole, non-negative milliseconds.
function toOffset(offsetMs: number): number {
  return Number.isFinite(offsetMs) ? Math.max(0, Math.round(offsetMs)) : 0;
}

/** Chat messages and heart counts of broadcasts: what viewers see live and the replay plays back. */
export class ChatStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  #select() {
    return this.#db
      .selectFrom('chat_messages')
      .innerJoin('users', 'users.id', 'chat_messages.user_id')
      .select([
        'chat_messages.id',
        'chat_messages.broadcast_id',
        'chat_messages.user_id',
        'users.username',
        'chat_messages.text',
        'chat_messages.offset_ms',
        'chat_messages.sent_at',
        'chat_messages.removed_at',
        'chat_messages.removed_as',
      ]);
  }

  /**
   * Stores a message (the caller validated and rate-limited it) and returns it in wire form.
   * Throws AppError NOT_FOUND when the user or the broadcast does not exist.
   */
  async add(m: { broadcastId: BroadcastId; userId: UserId; text: string; offsetMs: number }): Promise<ChatMessage> {
    const user = await this.#db.selectFrom('users').select('username').where('id', '=', m.userId).executeTakeFirst();
    if (!user) throw new AppError('NOT_FOUND', 'user not found');
    const id = newChatMessageId();
    const sentAt = this.#clock();
    const offsetMs = toOffset(m.offsetMs);
    try {
      await this.#db
        .insertInto('chat_messages')
        .values({ id, broadcast_id: m.broadcastId, user_id: m.userId, text: m.text, offset_ms: offsetMs, sent_at: sentAt })
        .execute();
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new AppError('NOT_FOUND', 'broadcast not found');
      throw err;
    }
    return { id, broadcastId: m.broadcastId, user: { id: m.userId, username: user.username }, text: m.text, offsetMs, sentAt: toIso(sentAt) };
  }

  /** The last `limit` messages of a broadcast that were not removed, oldest first (for viewers who join late). */
  async recent(broadcastId: BroadcastId, limit: number): Promise<ChatMessage[]> {
    const n = Math.trunc(limit);
    if (!(n > 0)) return [];
    const rows = await this.#select()
      .where('chat_messages.broadcast_id', '=', broadcastId)
      .where('chat_messages.removed_at', 'is', null)
      .orderBy('chat_messages.seq', 'desc')
      .limit(n)
      .execute();
    return rows.reverse().map(toMessage);
  }

  /** Every message of a broadcast that was not removed, by offsetMs (ties in order sent): what the replay plays back. */
  async list(broadcastId: BroadcastId): Promise<ChatMessage[]> {
    const rows = await this.#select()
      .where('chat_messages.broadcast_id', '=', broadcastId)
      .where('chat_messages.removed_at', 'is', null)
      .orderBy('chat_messages.offset_ms')
      .orderBy('chat_messages.seq')
      .execute();
    return rows.map(toMessage);
  }

  /** One message by id (reports: what was reported), or undefined. */
  async find(id: ChatMessageId): Promise<ChatMessage | undefined> {
    const row = await this.#select().where('chat_messages.id', '=', id).executeTakeFirst();
    return row && toMessage(row);
  }

  /**
   * The message `id` with up to `n` messages before and `n` after it in its broadcast, in the
   * order sent (an admin reads a reported message in context). Empty when it does not exist.
   */
  async around(id: ChatMessageId, n: number): Promise<ChatMessage[]> {
    const k = Math.min(Math.max(Math.trunc(n), 0), 50);
    const at = await this.#db.selectFrom('chat_messages').select(['seq', 'broadcast_id']).where('id', '=', id).executeTakeFirst();
    if (!at) return [];
    const [before, after] = await Promise.all([
      this.#select()
        .select('chat_messages.seq')
        .where('chat_messages.broadcast_id', '=', at.broadcast_id)
        .where('chat_messages.seq', '<=', at.seq)
        .orderBy('chat_messages.seq', 'desc')
        .limit(k + 1)
        .execute(),
      this.#select()
        .select('chat_messages.seq')
        .where('chat_messages.broadcast_id', '=', at.broadcast_id)
        .where('chat_messages.seq', '>', at.seq)
        .orderBy('chat_messages.seq')
        .limit(k)
        .execute(),
    ]);
    return [...before.reverse(), ...after].map(toMessage);
  }


  /**
   * A broadcast's chat for the archive of `archiveOf`: every message not removed, plus the
   * removed ones `archiveOf` wrote (their own words stay in their own archive, marked), by
   * offsetMs (ties in order sent).
   */
  async listForArchive(broadcastId: BroadcastId, archiveOf: UserId): Promise<ArchivedChatMessage[]> {
    const rows = await this.#select()
      .where('chat_messages.broadcast_id', '=', broadcastId)
      .where((eb) => eb.or([eb('chat_messages.removed_at', 'is', null), eb('chat_messages.user_id', '=', archiveOf)]))
      .orderBy('chat_messages.offset_ms')
      .orderBy('chat_messages.seq')
      .execute();
    return rows.map(toArchived);
  }

  /**
   * A user's messages in broadcasts of other owners, oldest first, with those broadcasts' titles
   * (for their archive): removed ones too, marked — the author keeps their own words.
   */
  async listByUserElsewhere(userId: UserId): Promise<Array<ArchivedChatMessage & { broadcastTitle: string }>> {
    const rows = await this.#select()
      .innerJoin('broadcasts', 'broadcasts.id', 'chat_messages.broadcast_id')
      .select('broadcasts.title as broadcast_title')
      .where('chat_messages.user_id', '=', userId)
      .where('broadcasts.owner_id', '<>', userId)
      .orderBy('chat_messages.sent_at')
      .orderBy('chat_messages.seq')
      .execute();
    return rows.map((r) => ({ ...toArchived(r), broadcastTitle: r.broadcast_title }));
  }

  /**
   * Adds a batch of hearts at `offsetMs`. Batches at the same offset are summed.
   * Non-positive counts are ignored. Throws AppError NOT_FOUND for an unknown broadcast.
   */
  async addHearts(broadcastId: BroadcastId, offsetMs: number, count: number): Promise<void> {
    const n = Math.trunc(count);
    if (!(n > 0)) return;
    try {
      await this.#db
        .insertInto('hearts')
        .values({ broadcast_id: broadcastId, offset_ms: toOffset(offsetMs), count: n })
        .onConflict((oc) => oc.columns(['broadcast_id', 'offset_ms']).doUpdateSet((eb) => ({ count: eb('hearts.count', '+', eb.ref('excluded.count')) })))
        .execute();
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new AppError('NOT_FOUND', 'broadcast not found');
      throw err;
    }
  }

  /** A broadcast's heart batches by offset. */
  async hearts(broadcastId: BroadcastId): Promise<HeartBatch[]> {
    const rows = await this.#db
      .selectFrom('hearts')
      .select(['offset_ms', 'count'])
      .where('broadcast_id', '=', broadcastId)
      .orderBy('offset_ms')
      .execute();
    return rows.map((r) => ({ offsetMs: r.offset_ms, count: r.count }));
  }
}

interface MessageRow {
  id: ChatMessage['id'];
  broadcast_id: BroadcastId;
  user_id: UserId;
  username: string;
  text: string;
  offset_ms: number;
  sent_at: number;
  removed_at: number | null;
  removed_as: ChatRemovedAs | null;
}

function toArchived(row: MessageRow): ArchivedChatMessage {
  return {
    ...toMessage(row),
    removed: row.removed_at === null ? null : { as: row.removed_as ?? 'broadcaster', at: toIso(Number(row.removed_at)) },
  };
}

function toMessage(row: MessageRow): ChatMessage {
  return {
    id: row.id,
    broadcastId: row.broadcast_id,
    user: { id: row.user_id, username: row.username },
    text: row.text,
    offsetMs: row.offset_ms,
    sentAt: toIso(row.sent_at),
  };
}
