import express, { type Request } from 'express';
import { AppError, parseOrThrow } from '../../common/errors.ts';
import { BlockUserSchema, type BlockList } from '../../common/protocol/events.ts';
import { UserIdSchema } from '../../common/protocol/ids.ts';
import type { Blocking } from '../moderation/Blocking.ts';
import type { UserRecord } from '../store/UserStore.ts';
import { requestUser } from './auth.ts';

function signedIn(req: Request): UserRecord {
  const user = requestUser(req);
  if (!user) throw new AppError('UNAUTHENTICATED', 'sign in to manage whom you block');
  return user;
}

/**
 * The caller's block list, mounted at /api/blocks (docs/http-api.md): `GET` lists it, `POST
 * { username }` blocks someone, `DELETE /:userId` lets them back in. Always the caller's own
 * list: there is no way to read or change another user's.
 */
export function blocksRouter(blocking: Blocking): express.Router {
  const router = express.Router();

  router.get('/', async (req, res) => {
    const body: BlockList = { blocked: await blocking.list(signedIn(req)) };
    res.json(body);
  });

  router.post('/', async (req, res) => {
    const user = signedIn(req);
    const { username } = parseOrThrow(BlockUserSchema, req.body ?? {});
    res.status(201).json(await blocking.blockByUsername(user, username));
  });

  router.delete('/:userId', async (req, res) => {
    const user = signedIn(req);
    const parsed = UserIdSchema.safeParse(req.params.userId);
    if (!parsed.success) throw new AppError('NOT_FOUND', 'this user is not on your block list');
    await blocking.unblock(user, parsed.data);
    res.status(204).end();
  });

  return router;
}
