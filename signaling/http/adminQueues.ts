import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { AppError } from '../../common/errors.ts';
import type { Stores } from '../store/index.ts';
import { userFrom } from './auth.ts';

/** Where the job dashboard lives. */
export const ADMIN_QUEUES_PATH = '/admin/queues';

/**
 * bull-board (the BullMQ dashboard) for admins: users with the 'admin' role or named in
 * `config.admins`. Everyone else gets the same 404 as for a page that does not exist.
 */
export function adminQueuesRouter(opts: { queues: Queue[]; stores: Stores; admins: string[] }): Router {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(ADMIN_QUEUES_PATH);
  createBullBoard({ queues: opts.queues.map((q) => new BullMQAdapter(q)), serverAdapter: adapter });
  const admins = new Set(opts.admins.map((a) => a.toLowerCase()));
  const router = Router();
  router.use(ADMIN_QUEUES_PATH, (req: Request, _res: Response, next: NextFunction) => {
    userFrom(opts.stores, req.headers).then(
      (user) => {
        if (user && (user.role === 'admin' || admins.has(user.username.toLowerCase()))) next();
        else next(new AppError('NOT_FOUND', 'not found'));
      },
      (err: unknown) => next(err),
    );
  });
  router.use(ADMIN_QUEUES_PATH, adapter.getRouter() as Router);
  return router;
}
