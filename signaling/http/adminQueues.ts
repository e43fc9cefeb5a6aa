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
 * bull-board (the BullMQ dashboard) for admins: accounts with the 'admin' role (granted with
 * `npm run admin -- grant-admin`). Everyone else gets the same 404 as for a page that does not exist.
 */
export function adminQueuesRouter(opts: { queues: Queue[]; stores: Stores }): Router {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(ADMIN_QUEUES_PATH);
  createBullBoard({ queues: opts.queues.map((q) => new BullMQAdapter(q)), serverAdapter: adapter });
  const router = Router();
  router.use(ADMIN_QUEUES_PATH, (req: Request, _res: Response, next: NextFunction) => {
    userFrom(opts.stores, req.headers).then(
      (user) => {
        if (user?.role === 'admin') next();
        else next(new AppError('NOT_FOUND', 'not found'));
      },
      (err: unknown) => next(err),
    );
  });
  router.use(ADMIN_QUEUES_PATH, adapter.getRouter() as Router);
  return router;
}
