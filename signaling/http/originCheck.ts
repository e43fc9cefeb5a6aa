import type { IncomingHttpHeaders } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { isLoopbackHost } from '../../common/config.ts';
import { AppError } from '../../common/errors.ts';

/** Where the service's own origins come from (see `serviceOrigins`). */
export interface OriginSources {
  /** `http.allowedOrigins`: origins given by the operator. */
  allowedOrigins: readonly string[];
  /** `http.publicUrl`: its origin is the service's. */
  publicUrl?: string | undefined;
  /** How and where the HTTP server listens (the port once bound). */
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** This machine's interface addresses, for a wildcard bind (0.0.0.0 or ::) with nothing configured. */
  interfaceAddresses: () => string[];
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

function originOf(scheme: string, host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return new URL(`${scheme}://${h}:${port}`).origin;
}

/**
 * The origins whose pages may act on this service (state-changing HTTP requests, socket.io
 * handshakes). When the operator configured any (`allowedOrigins`, `publicUrl`), exactly
 * those; else where the server listens: `scheme://host:port`, with the names `localhost`,
 * `127.0.0.1` and `[::1]` for a loopback bind and every interface address (plus those names)
 * for a wildcard bind. A proxy's public name is never guessed: behind one, set `publicUrl`.
 */
export function serviceOrigins(s: OriginSources): Set<string> {
  const configured = [...s.allowedOrigins, ...(s.publicUrl ? [s.publicUrl] : [])];
  if (configured.length > 0) return new Set(configured.map((o) => new URL(o).origin));
  const wildcard = s.host === '0.0.0.0' || s.host === '::' || s.host === '[::]';
  const hosts = wildcard ? [...LOOPBACK_NAMES, ...s.interfaceAddresses()] : isLoopbackHost(s.host) ? [s.host, ...LOOPBACK_NAMES] : [s.host];
  return new Set(hosts.map((h) => originOf(s.scheme, h, s.port)));
}

/**
 * Why a request made by a browser page of another origin must be refused, or undefined. A
 * foreign (or opaque "null") `Origin` is refused; without `Origin`, `Sec-Fetch-Site:
 * cross-site|same-site` is refused too. A request with neither (curl, API clients with a
 * bearer token, server-to-server) is not a browser acting for a user and goes on.
 */
export function crossOriginRefusal(headers: IncomingHttpHeaders, isAllowed: (origin: string) => boolean): string | undefined {
  const origin = headers.origin;
  if (typeof origin === 'string' && origin !== '') {
    return isAllowed(origin) ? undefined : `cross-origin request refused: Origin ${origin} is not one of this service's origins (http.allowedOrigins, http.publicUrl)`;
  }
  const site = headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return `cross-origin request refused: sent from another site (Sec-Fetch-Site: ${site})`;
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Refuses state-changing requests (anything but GET, HEAD, OPTIONS) from other origins with 403 FORBIDDEN. */
export function originGuard(isAllowed: (origin: string) => boolean): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (SAFE_METHODS.has(req.method)) return next();
    const refusal = crossOriginRefusal(req.headers, isAllowed);
    next(refusal ? new AppError('FORBIDDEN', refusal) : undefined);
  };
}
