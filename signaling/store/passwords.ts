import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { BusyError, ConcurrencyLimit } from '../throttle/ConcurrencyLimit.ts';

/** scrypt cost parameters for new hashes: N=2^15, r=8, p=1 (32 MiB, tens of ms per hash). */
const N = 2 ** 15;
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

// Bounds for parameters read back from an encoding: generous enough for stronger future
// settings, tight enough that a corrupt row cannot make us allocate gigabytes.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEM = 256 * 1024 * 1024;

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DIGITS = /^[1-9][0-9]{0,9}$/;

/** A key derivation function with scrypt's signature (tests wrap the real one to observe it). */
export type Kdf = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) => Promise<Buffer>;

/** The real KDF: Node's asynchronous scrypt. */
export const scryptKdf: Kdf = (password, salt, keylen, options) =>
  new Promise((resolve, reject) => {
    // The async form runs on libuv's thread pool, so hashing never blocks the event loop.
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });

// scrypt needs 128·N·r bytes plus a little; Node's default maxmem (32 MiB) is exactly what
// N=2^15, r=8 needs and rejects it, so allow twice the requirement.
function options(n: number, r: number, p: number): ScryptOptions {
  return { N: n, r, p, maxmem: 2 * 128 * n * r };
}

/**
 * Hashes a password with scrypt and a random 16-byte salt. The result is self-describing,
 * `scrypt$N$r$p$saltB64$hashB64`, so cost parameters can be raised later without breaking
 * existing hashes. Passwords are NFC-normalised first so the same password typed on
 * different devices matches.
 */
export async function hashPassword(password: string, kdf: Kdf = scryptKdf): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await kdf(password.normalize('NFC'), salt, KEY_BYTES, options(N, R, P));
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/**
 * Checks a password against an encoding made by `hashPassword`, in constant time.
 * Returns false (never throws) for a wrong password or a malformed encoding.
 */
export async function verifyPassword(password: string, encoded: string, kdf: Kdf = scryptKdf): Promise<boolean> {
  if (typeof password !== 'string' || typeof encoded !== 'string') return false;
  const parts = encoded.split('$');
  if (parts.length !== 6) return false;
  const [scheme, nText, rText, pText, saltText, hashText] = parts;
  if (scheme !== 'scrypt' || nText === undefined || rText === undefined || pText === undefined) return false;
  if (saltText === undefined || hashText === undefined) return false;
  if (!DIGITS.test(nText) || !DIGITS.test(rText) || !DIGITS.test(pText)) return false;
  const n = Number(nText);
  const r = Number(rText);
  const p = Number(pText);
  // N must be a power of two greater than 1.
  if (n < 2 || n > MAX_N || (n & (n - 1)) !== 0 || r > MAX_R || p > MAX_P) return false;
  if (2 * 128 * n * r > MAX_MEM) return false;
  if (!B64.test(saltText) || !B64.test(hashText)) return false;
  const salt = Buffer.from(saltText, 'base64');
  const expected = Buffer.from(hashText, 'base64');
  if (salt.length < 8 || expected.length < 16 || expected.length > 128) return false;
  let actual: Buffer;
  try {
    actual = await kdf(password.normalize('NFC'), salt, expected.length, options(n, r, p));
  } catch {
    return false;
  }
  return timingSafeEqual(actual, expected);
}

export interface PasswordHasherOptions {
  /** scrypt computations at once (each takes a libuv thread-pool thread and 32 MiB). */
  concurrency: number;
  /** Computations waiting for a slot; beyond this, BusyError (503 UNAVAILABLE). */
  maxQueue: number;
  /** Default: Node's scrypt. */
  kdf?: Kdf;
}

/**
 * Password hashing with a bound on concurrent scrypt computations and on the wait for one.
 * Unbounded, a flood of sign-ins fills libuv's thread pool (shared with fs and dns) and every
 * legitimate sign-in waits behind it; bounded, the flood is refused quickly with 503.
 */
export class PasswordHasher {
  readonly #limit: ConcurrencyLimit;
  readonly #kdf: Kdf;

  constructor(o: PasswordHasherOptions) {
    this.#limit = new ConcurrencyLimit({
      concurrency: o.concurrency,
      maxQueue: o.maxQueue,
      busyMessage: 'the server is busy checking passwords; try again in a moment',
    });
    const kdf = o.kdf ?? scryptKdf;
    this.#kdf = (...args) => this.#limit.run(() => kdf(...args));
  }

  /** Like {@link hashPassword}; throws BusyError when the queue is full. */
  hash(password: string): Promise<string> {
    return hashPassword(password, this.#kdf);
  }

  /** Like {@link verifyPassword}; throws BusyError when the queue is full (never for a wrong password). */
  async verify(password: string, encoded: string): Promise<boolean> {
    // verifyPassword turns KDF errors into false; a refusal must reach the caller as such.
    let busy: BusyError | undefined;
    const ok = await verifyPassword(password, encoded, (...args) =>
      this.#kdf(...args).catch((err: unknown) => {
        if (err instanceof BusyError) busy = err;
        throw err;
      }),
    );
    if (busy !== undefined && !ok) throw busy;
    return ok;
  }
}
