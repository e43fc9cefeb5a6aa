import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityHeaders } from '../../signaling/http/securityHeaders.ts';
import { startTestServer, type TestServer } from '../../testkit/server.ts';

/**
 * Security headers over plain HTTP on pages, the API (answers and errors) and static assets:
 * a CSP without framing, X-Frame-Options, nosniff, Referrer-Policy; no HSTS without HTTPS.
 */
describe('security headers', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('are on every page and API answer', async () => {
    const host = new URL(server.url).host;
    const paths = ['/', '/account', '/replay/abc', '/api/broadcasts', '/api/no-such-route', '/api/auth/me', '/healthz'];
    for (const p of paths) {
      const res = await fetch(`${server.url}${p}`);
      const h = res.headers;
      const csp = h.get('content-security-policy') ?? '';
      const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values] as const));
      expect(directives.get('default-src'), p).toEqual(["'self'"]);
      expect(directives.get('script-src'), p).toEqual(["'self'"]);
      expect(directives.get('frame-ancestors'), p).toEqual(["'none'"]);
      expect(directives.get('object-src'), p).toEqual(["'none'"]);
      expect(directives.get('connect-src'), p).toEqual(["'self'", `ws://${host}`]);
      expect(directives.get('style-src')?.[0], p).toBe("'self'");
      expect(directives.get('style-src')?.slice(1).every((s) => /^'sha256-[A-Za-z0-9+/]+=*'$/.test(s)), p).toBe(true);
      expect(directives.has('upgrade-insecure-requests'), p).toBe(false);
      expect(h.get('x-frame-options'), p).toBe('DENY');
      expect(h.get('x-content-type-options'), p).toBe('nosniff');
      expect(h.get('referrer-policy'), p).toBe('no-referrer');
      expect(h.get('strict-transport-security'), p).toBeNull();
      expect(h.get('x-powered-by'), p).toBeNull();
    }
  });

  it('lets only the job dashboard use inline styles (never inline scripts)', async () => {
    for (const [p, inline] of [['/admin/queues', true], ['/ADMIN/queues/', true], ['/admin/queuesx', false], ['/account', false]] as const) {
      const csp = (await fetch(`${server.url}${p}`)).headers.get('content-security-policy') ?? '';
      expect(/style-src [^;]*'unsafe-inline'/.test(csp), p).toBe(inline);
      expect(csp, p).toMatch(/script-src 'self';/);
      expect(csp, p).toContain("frame-ancestors 'none'");
    }
  });

  it('writes no attacker-chosen Host into the policy', async () => {
    const http = await import('node:http');
    const csp = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${server.url}/`, { headers: { host: "evil.example; script-src 'unsafe-inline'" } }, (res) => {
        res.resume();
        resolve(String(res.headers['content-security-policy']));
      });
      req.on('error', reject);
      req.end();
    });
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toMatch(/connect-src 'self' 'self';|connect-src 'self';/);
  });
});

describe('security headers with several nodes', () => {
  /** The connect-src a page gets when requested with `host` (nodePorts on). */
  const connectSrc = async (host: string, secure = false) => {
    const app = express();
    app.use(securityHeaders({ secure, nodePorts: true }));
    app.get('/', (_req, res) => void res.send('ok'));
    const server = http.createServer(app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const csp = await new Promise<string>((resolve, reject) => {
        const req = http.request({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', path: '/', headers: { host } }, (res) => {
          res.resume();
          resolve(String(res.headers['content-security-policy']));
        });
        req.on('error', reject);
        req.end();
      });
      return /connect-src ([^;]*)/.exec(csp)?.[1];
    } finally {
      server.close();
    }
  };

  it('lets socket.io reach the other ports of the page\'s host name (where node URLs are), and no other host', async () => {
    expect(await connectSrc('live.example.org:8443', true)).toBe("'self' wss://live.example.org:8443 wss://live.example.org:*");
    expect(await connectSrc('127.0.0.1:8081')).toBe("'self' ws://127.0.0.1:8081 ws://127.0.0.1:*");
    expect(await connectSrc('[::1]:8081')).toBe("'self' ws://[::1]:8081 ws://[::1]:*");
    expect(await connectSrc("evil.example; script-src 'unsafe-inline'")).toBe("'self' 'self'");
  });
});
