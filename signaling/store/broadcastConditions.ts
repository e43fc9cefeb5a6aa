import { expressionBuilder, type Expression, type SqlBool } from 'kysely';
import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import type { DB } from './schema.ts';

/*
 * Conditions on queries over `broadcasts`, written once for every store that lists them
 * (broadcasts, replays, notifications).
 */

/**
 * The one visibility rule of broadcasts and their replays (docs/security.md): public, or — for
 * a signed-in `viewerId` — theirs or one they are invited to. Anonymous (`undefined`): public only.
 */
export function visibleTo(viewerId: UserId | undefined): Expression<SqlBool> {
  const eb = expressionBuilder<DB, 'broadcasts'>();
  if (viewerId === undefined) return eb('broadcasts.visibility', '=', 'public');
  return eb.or([
    eb('broadcasts.visibility', '=', 'public'),
    eb('broadcasts.owner_id', '=', viewerId),
    eb.exists(
      eb
        .selectFrom('broadcast_invitees')
        .select('broadcast_invitees.user_id')
        .whereRef('broadcast_invitees.broadcast_id', '=', 'broadcasts.id')
        .where('broadcast_invitees.user_id', '=', viewerId),
    ),
  ]);
}

/**
 * Keyset paging of broadcast lists, newest first by (started_at, id): the rows after `cursor`
 * (the last row of the previous page).
 */
export function startedBefore(cursor: { startedAt: string; id: BroadcastId }): Expression<SqlBool> {
  const eb = expressionBuilder<DB, 'broadcasts'>();
  const at = Date.parse(cursor.startedAt);
  return eb.or([eb('broadcasts.started_at', '<', at), eb.and([eb('broadcasts.started_at', '=', at), eb('broadcasts.id', '<', cursor.id)])]);
}
