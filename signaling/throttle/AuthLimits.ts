import type { Config } from '../../common/config.ts';
import type { RateLimits, Throttle } from './RateLimits.ts';

/** A day: failures in a row for one username are remembered this long without a success. */
const CONSECUTIVE_WINDOW_SECONDS = 86_400;

/**
 * The throttles of sign-in and sign-up (rate-limiter-flexible's login-protection pattern):
 * failed sign-ins in a row per username, failed sign-ins per client address, sign-up attempts
 * per client address. Usernames are counted whether or not an account exists, so a blocked
 * name says nothing about the account.
 */
export class AuthLimits {
  readonly #account: Throttle;
  readonly #address: Throttle;
  readonly #signUp: Throttle;

  constructor(limits: RateLimits, config: Config['limits']) {
    this.#account = limits.create(
      'signin-account',
      { points: config.signInFailuresPerAccount, durationSeconds: CONSECUTIVE_WINDOW_SECONDS, blockSeconds: config.signInAccountBlockSeconds },
      'too many failed sign-ins for this username',
    );
    this.#address = limits.create(
      'signin-address',
      { points: config.signInFailuresPerAddress, durationSeconds: config.signInAddressWindowSeconds, blockSeconds: config.signInAddressWindowSeconds },
      'too many failed sign-ins from your network address',
    );
    this.#signUp = limits.create(
      'signup-address',
      { points: config.signUpsPerAddress, durationSeconds: config.signUpWindowSeconds },
      'too many sign-ups from your network address',
    );
  }

  /** Before checking a password: throws RateLimitedError while the username or the address is blocked. */
  async beforeSignIn(username: string, address: string): Promise<void> {
    await Promise.all([this.#account.checkBlocked(accountKey(username)), this.#address.checkBlocked(address)]);
  }

  /** After a wrong password: counts it; throws RateLimitedError when this failure started a block. */
  async signInFailed(username: string, address: string): Promise<void> {
    const results = await Promise.allSettled([this.#account.take(accountKey(username)), this.#address.take(address)]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  /** After the right password: the username's failures are forgotten (the address's are not). */
  async signInSucceeded(username: string): Promise<void> {
    await this.#account.reset(accountKey(username));
  }

  /** A sign-up attempt from `address`; throws RateLimitedError when the address has used its allowance. */
  async signUp(address: string): Promise<void> {
    await this.#signUp.take(address);
  }
}

// Usernames are case-insensitive, so are their counters.
function accountKey(username: string): string {
  return username.trim().toLowerCase();
}
