import type { ConfigInput } from '../../common/config.ts';

/**
 * The per-address and per-user limits of a benchmarked service, raised out of the way: every
 * synthetic client connects from 127.0.0.1 and every run signs up and goes live again, so the
 * defaults (docs/security.md) would measure the throttling instead of the service.
 */
export const BENCH_LIMITS: NonNullable<ConfigInput['limits']> = {
  connectionsPerAddress: 100_000,
  signUpsPerAddress: 100_000,
  goLivesPerUser: 100_000,
  goLivesPerAddress: 100_000,
};
