import { ZodError } from 'zod';
import { ERROR_CODES, type ErrorCode, type JoinRedirect, type WireError } from './protocol/errors.ts';

/** An error a client may see: a stable code, a message, and the HTTP status of the code. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CODES[code];
  }
  toWire(): WireError {
    return { code: this.code, message: this.message };
  }
}

/** `broadcast:join` on a loaded node: join on `redirect` instead (the wire error carries it). */
export class RedirectError extends AppError {
  readonly redirect: JoinRedirect;
  constructor(redirect: JoinRedirect) {
    super('REDIRECT', `this server is busy: join on ${redirect.url} with redirected: true`);
    this.name = 'RedirectError';
    this.redirect = redirect;
  }
  override toWire(): WireError {
    return { ...super.toWire(), redirect: { ...this.redirect } };
  }
}

/** Summarises a zod error as one readable line: `title: title is required; invitees.0: …`. */
export function describeZodError(err: ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/**
 * Maps anything thrown to the wire shape. Unknown errors become INTERNAL with a generic
 * message (details go to the log, not to the client).
 */
export function toWireError(err: unknown): WireError {
  if (err instanceof AppError) return err.toWire();
  if (err instanceof ZodError) return { code: 'VALIDATION_FAILED', message: describeZodError(err) };
  return { code: 'INTERNAL', message: 'internal error' };
}

/** Parses `input` with `schema`, throwing AppError(VALIDATION_FAILED) with a readable message. */
export function parseOrThrow<T>(schema: { safeParse(i: unknown): { success: true; data: T } | { success: false; error: ZodError } }, input: unknown): T {
  const r = schema.safeParse(input);
  if (!r.success) throw new AppError('VALIDATION_FAILED', describeZodError(r.error));
  return r.data;
}
