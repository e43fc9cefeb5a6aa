import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

export interface SecurityHeadersOptions {
  /** Served over HTTPS (directly, or a proxy's public URL is https): adds HSTS and upgrade-insecure-requests. */
  secure: boolean;
  /** Extra `style-src` hashes (`'sha256-…'`) of inline styles the server itself writes (the farewell page). */
  styleHashes?: readonly string[];
  /**
   * Path prefixes whose pages may use inline styles (not scripts): the job dashboard
   * (bull-board), a third-party page with `style` attributes. Default none.
   */
  inlineStylePaths?: readonly string[];
  /**
   * Several nodes: socket.io may also reach the other ports of the page's host name, where the
   * other nodes' URLs are (`cluster.nodeUrl` shares the public host name; docs/protocol.md,
   * "Join redirection"). Default false: the page's own origin only.
   */
  nodePorts?: boolean;
}

/** A Host header safe to write into a policy (anything else is left to 'self'). */
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** The host name of a Host header (HOST-checked), without its port. */
function hostName(host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
}

/**
 * Security headers on every response, pages and API alike (helmet): a Content-Security-Policy
 * that the built web client satisfies — its own scripts and styles only, images from itself
 * and `data:` (the favicon), media and hls.js's worker from `blob:` (MediaSource), socket.io
 * to its own origin (several nodes: any port of its host name) — no framing (`frame-ancestors 'none'`, X-Frame-Options DENY), nosniff,
 * `Referrer-Policy: no-referrer`, and HSTS only when served over HTTPS.
 */
export function securityHeaders(o: SecurityHeadersOptions): RequestHandler {
  const strict = headers(o, false);
  const prefixes = (o.inlineStylePaths ?? []).map((p) => p.toLowerCase());
  if (prefixes.length === 0) return strict;
  const relaxed = headers(o, true);
  return (req, res, next) => {
    const p = req.path.toLowerCase();
    const inline = prefixes.some((prefix) => p === prefix || p.startsWith(`${prefix}/`));
    (inline ? relaxed : strict)(req, res, next);
  };
}

function headers(o: SecurityHeadersOptions, inlineStyles: boolean): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'", ...(inlineStyles ? ["'unsafe-inline'"] : (o.styleHashes ?? []))],
        'img-src': ["'self'", 'data:', 'blob:'],
        'media-src': ["'self'", 'blob:'],
        'worker-src': ["'self'", 'blob:'],
        // 'self' covers ws(s): of the page's origin in CSP3; older engines need it spelled out.
        'connect-src': [
          "'self'",
          (req: IncomingMessage) => {
            const host = req.headers.host;
            if (!host || !HOST.test(host)) return "'self'";
            const ws = o.secure ? 'wss' : 'ws';
            return o.nodePorts ? `${ws}://${host} ${ws}://${hostName(host)}:*` : `${ws}://${host}`;
          },
        ],
        'font-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        ...(o.secure ? { 'upgrade-insecure-requests': [] } : {}),
      },
    },
    strictTransportSecurity: o.secure ? { maxAge: 180 * 24 * 3600, includeSubDomains: false } : false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // The replay files and archive downloads are fetched by our own pages or navigated to.
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
}
