import { Router } from 'express';
import type { Registry } from 'prom-client';
import type { Stores } from '../store/index.ts';
import { userFrom } from './auth.ts';

/**
 * `GET /metrics` on the service's own port, for admins (accounts with the 'admin' role);
 * everyone else gets exactly what a path that does not exist gets. A Prometheus without an
 * admin session scrapes the separate port instead (`metrics.port`, common/metrics/MetricsServer.ts).
 */
export function metricsRouter(o: { registry: Registry; stores: Stores }): Router {
  const router = Router();
  router.get('/metrics', (req, res, next) => {
    userFrom(o.stores, req.headers)
      .then(async (user) => {
        // Everyone else falls through to what any unknown path gets (the web client's page).
        if (user?.role !== 'admin') return next();
        const text = await o.registry.metrics();
        res.set('content-type', o.registry.contentType).set('cache-control', 'no-store').send(text);
      })
      .catch(next);
  });
  return router;
}
