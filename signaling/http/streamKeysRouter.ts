import express, { type Request } from 'express';
import { AppError, parseOrThrow } from '../../common/errors.ts';
import {
  StreamKeyChangeSchema,
  StreamKeyCreateSchema,
  StreamKeyIdSchema,
  type CreatedStreamKey,
  type StreamKeyList,
} from '../../common/protocol/streamKeys.ts';
import type { LiveService } from '../live/LiveService.ts';
import { toSummary } from '../live/LiveBroadcast.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';
import { requestUser } from './auth.ts';

function signedIn(req: Request): UserRecord {
  const user = requestUser(req);
  if (!user) throw new AppError('UNAUTHENTICATED', 'sign in to manage your stream keys');
  return user;
}

/** The one answer for a key id that is not the caller's unrevoked key: someone else's reads exactly like a missing one. */
const notFound = () => new AppError('NOT_FOUND', 'stream key not found');

/** The id in the path, or NOT_FOUND for one that cannot be a key's. */
function keyId(req: Request<{ id: string }>): string {
  const parsed = StreamKeyIdSchema.safeParse(req.params.id);
  if (!parsed.success) throw notFound();
  return parsed.data;
}

/**
 * The caller's stream keys, mounted at /api/stream-keys (docs/http-api.md, docs/ingest.md):
 * `GET` lists them (never a secret) with the caller's broadcast an encoder started, if one is on air, `POST` creates one and answers its secret — the only time
 * it is shown —, `PATCH /:id` renames it or changes the title and visibility of its broadcasts,
 * `DELETE /:id` revokes it. Always the caller's own keys. A suspended account may list, change
 * and revoke its keys but not create one (SUSPENDED), as it may not go live.
 */
export function streamKeysRouter(o: { stores: Stores; live: LiveService; rtmpPort: number | null }): express.Router {
  const router = express.Router();

  router.get('/', async (req, res) => {
    const user = signedIn(req);
    const [keys, live] = await Promise.all([o.stores.streamKeys.list(user.id), o.stores.broadcasts.findLiveByOwner(user.id)]);
    const fromEncoder = live && live.source !== 'browser' ? (o.live.liveSummary(live.id) ?? toSummary(live, 0)) : null;
    const body: StreamKeyList = { keys, rtmpPort: o.rtmpPort, live: fromEncoder };
    res.json(body);
  });

  router.post('/', async (req, res) => {
    const user = signedIn(req);
    const input = parseOrThrow(StreamKeyCreateSchema, req.body ?? {});
    const suspension = await o.stores.suspensions.get(user.id);
    if (suspension) throw new AppError('SUSPENDED', `your account is suspended, so you cannot create stream keys: ${suspension.reason}`);
    const body: CreatedStreamKey = await o.stores.streamKeys.create(user.id, input);
    res.status(201).json(body);
  });

  router.patch('/:id', async (req, res) => {
    const user = signedIn(req);
    const id = keyId(req);
    const change = parseOrThrow(StreamKeyChangeSchema, req.body ?? {});
    const key = await o.stores.streamKeys.update(user.id, id, change);
    if (!key) throw notFound();
    res.json({ key });
  });

  router.delete('/:id', async (req, res) => {
    const user = signedIn(req);
    if (!(await o.stores.streamKeys.revoke(user.id, keyId(req)))) throw notFound();
    res.status(204).end();
  });

  return router;
}
