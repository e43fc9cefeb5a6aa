import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { io as connectSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../testkit/browser.ts';
import { ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

/** Opens a real socket.io client with these headers; resolves with the socket, or the connect error's message. */
function openSocket(url: string, extraHeaders: Record<string, string>, transport: 'websocket' | 'polling'): Promise<ClientSocket | string> {
  const socket: ClientSocket = connectSocket(url, { transports: [transport], extraHeaders, reconnection: false, forceNew: true });
  return new Promise((resolve) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      resolve(err.message);
    });
  });
}

/** A foreign page's pretend server: another port of the same host. */
async function listen(handler: http.RequestListener): Promise<{ origin: string; close: () => Promise<void> }> {
  const srv = http.createServer(handler);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise((resolve) => srv.close(() => resolve())) };
}

/**
 * Pages of other origins — above all another port of the same host, which is the same *site*
 * and so gets the user's cookies — must not act as the user: not over socket.io, not with a
 * form or fetch that changes state.
 */
describe('cross-origin requests (real server, real socket.io client)', () => {
  let server: TestServer;
  let own: string;
  let foreign: string;
  let alice: { token: string; cookie: string };
  let admin: { token: string; cookie: string };
  let other: Awaited<ReturnType<typeof listen>>;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    own = new URL(server.url).origin;
    other = await listen((_req, res) => res.end());
    foreign = other.origin;
    alice = await signUp(server.url, 'alice');
    admin = await signUp(server.url, 'boss');
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await other?.close();
    await server?.stop();
  });

  it('refuses a socket.io handshake from another port of the same host, with the cookie (both transports)', async () => {
    for (const transport of ['websocket', 'polling'] as const) {
      for (const origin of [foreign, `http://localhost:${new URL(foreign).port}`, 'https://evil.example', 'null', own.replace('http:', 'https:')]) {
        const r = await openSocket(server.url, { origin, cookie: alice.cookie }, transport);
        if (typeof r !== 'string') sockets.push(r);
        expect(typeof r, `${transport} ${origin}`).toBe('string');
      }
      // No Origin, but the browser says another site started it.
      const r = await openSocket(server.url, { 'sec-fetch-site': 'same-site', cookie: alice.cookie }, transport);
      if (typeof r !== 'string') sockets.push(r);
      expect(typeof r, `${transport} sec-fetch-site`).toBe('string');
    }
    expect(((await (await fetch(`${server.url}/api/broadcasts`)).json()) as { broadcasts: unknown }).broadcasts).toEqual([]);
  });

  it("lets the service's own origins (and clients that send none) open socket.io and act as the user, over WebSocket only", async () => {
    const port = new URL(server.url).port;
    // Long-polling is refused to everyone (the server takes WebSocket only: no sticky sessions across nodes).
    const polling = await openSocket(server.url, { origin: own, cookie: alice.cookie }, 'polling');
    if (typeof polling !== 'string') sockets.push(polling);
    expect(polling).toBe('xhr poll error');
    for (const transport of ['websocket'] as const) {
      for (const headers of [{ origin: own }, { origin: `http://localhost:${port}` }, { 'sec-fetch-site': 'same-origin' }, {}]) {
        const r = await openSocket(server.url, { ...headers, cookie: alice.cookie }, transport);
        expect(typeof r, `${transport} ${JSON.stringify(headers)}: ${typeof r === 'string' ? r : 'a socket'}`).not.toBe('string');
        const socket = r as ClientSocket;
        sockets.push(socket);
        const { broadcast } = await ok(socket, 'broadcast:start', { title: 'mine' });
        expect(broadcast.owner.username).toBe('alice');
        await ok(socket, 'broadcast:stop', { broadcastId: broadcast.id });
      }
    }
  });

  const stateChanging: Array<[string, string, unknown?]> = [
    ['POST', '/api/archives'],
    ['POST', '/api/auth/signout'],
    ['POST', '/api/auth/signin', { username: 'alice', password: 'correct horse battery' }],
    ['POST', '/api/auth/signup', { username: 'mallory', password: 'correct horse battery' }],
    ['PUT', '/api/admin/sunset', { nonsense: true }],
    ['DELETE', '/api/admin/sunset'],
    ['POST', '/api/no-such-route'],
    ['PATCH', '/api/broadcasts'],
    ['PUT', '/admin/queues/api/queues/pause'],
    ['POST', '/api/stream-keys', { name: 'OBS', title: 'stolen', visibility: 'public' }],
    ['PATCH', '/api/stream-keys/k_0123456789', { name: 'x' }],
    ['DELETE', '/api/stream-keys/k_0123456789'],
  ];

  const send = (method: string, p: string, headers: Record<string, string>, body?: unknown) =>
    fetch(`${server.url}${p}`, {
      method,
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  it('refuses every state-changing request with a foreign Origin (403 FORBIDDEN), with cookie or token', async () => {
    for (const [method, p, body] of stateChanging) {
      for (const origin of [foreign, 'null', 'https://evil.example']) {
        for (const auth of [{ cookie: alice.cookie }, { authorization: `Bearer ${admin.token}` }]) {
          const res = await send(method, p, { origin, ...auth }, body);
          const wire = (await res.json()) as { error: { code: string; message: string } };
          expect([method, p, origin, res.status, wire.error.code], wire.error.message).toEqual([method, p, origin, 403, 'FORBIDDEN']);
          expect(wire.error.message).toContain(`Origin ${origin} is not one of this service's origins`);
        }
      }
      for (const site of ['cross-site', 'same-site']) {
        const res = await send(method, p, { 'sec-fetch-site': site, cookie: alice.cookie }, body);
        expect([method, p, site, res.status]).toEqual([method, p, site, 403]);
      }
    }
    // Nothing happened: alice is still signed in, has no archive, mallory does not exist.
    expect((await send('GET', '/api/auth/me', { cookie: alice.cookie })).status).toBe(200);
    expect(await (await send('GET', '/api/archives/latest', { cookie: alice.cookie })).json()).toEqual({ archive: null });
    expect(await server.stores.users.findByUsername('mallory')).toBeUndefined();
  });

  it('lets the same requests through from its own origin, or with no Origin at all (API clients)', async () => {
    const signin = { username: 'alice', password: 'correct horse battery' };
    for (const headers of [{ origin: own }, { 'sec-fetch-site': 'same-origin' }, {}]) {
      const res = await send('POST', '/api/auth/signin', headers, signin);
      expect(res.status, JSON.stringify(headers)).toBe(200);
    }
    expect((await send('POST', '/api/archives', { origin: own, cookie: alice.cookie })).status).toBe(202);
    // GET is not state-changing: a foreign Origin may read what anyone may (CORS keeps the answer from its page).
    expect((await send('GET', '/api/broadcasts', { origin: foreign })).status).toBe(200);
  });

  it('sets the session cookie SameSite=Strict', async () => {
    const res = await send('POST', '/api/auth/signin', {}, { username: 'alice', password: 'correct horse battery' });
    expect(res.headers.get('set-cookie')).toMatch(/SameSite=Strict/);
  });
});

/**
 * The attack as a browser makes it: the user is signed in, then opens a page served on another
 * port of 127.0.0.1 that posts plain HTML forms and opens socket.io to Spyglass.
 */
describe('a hostile page on another port of the same host (Chromium)', () => {
  let server: TestServer;
  let browser: Browser;
  let hostile: Awaited<ReturnType<typeof listen>>;
  const clientJs = readFileSync(path.join(import.meta.dirname, '..', '..', 'node_modules', 'socket.io-client', 'dist', 'socket.io.min.js'));

  beforeAll(async () => {
    server = await startTestServer();
    const target = server.url;
    hostile = await listen((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/socket.io.min.js') return void res.setHeader('content-type', 'text/javascript').end(clientJs);
      const action = url.searchParams.get('action');
      res.setHeader('content-type', 'text/html');
      if (action) {
        res.end(`<!doctype html><form id="f" method="post" enctype="text/plain" action="${target}${action}"><input name="x" value="y"></form><script>document.getElementById('f').submit()</script>`);
      } else {
        res.end(`<!doctype html><script src="/socket.io.min.js"></script><script>
          window.attempt = new Promise((resolve) => {
            const s = io(${JSON.stringify(target)}, { transports: ['websocket'], reconnection: false });
            s.on('connect_error', (e) => resolve('refused: ' + e.message));
            s.on('connect', () => s.emit('broadcast:start', { title: 'as the victim' }, (ack) => resolve('connected: ' + JSON.stringify(ack))));
          });
        </script>`);
      }
    });
    browser = await launchChromium({ fakeDevices: false });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await hostile?.close();
    await server?.stop();
  });

  it('neither the form posts nor the socket.io connection act as the signed-in user', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    // Signing up from our own page works (same origin) and sets the cookie.
    const signedUp = await page.evaluate(async () => {
      const r = await fetch('/api/auth/signup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'victim', password: 'correct horse battery' }) });
      return r.status;
    });
    expect(signedUp).toBe(201);

    await page.goto(hostile.origin);
    const attempt = await page.evaluate(() => (window as unknown as { attempt: Promise<string> }).attempt);
    expect(attempt).toMatch(/^refused/);

    for (const action of ['/api/archives', '/api/auth/signout']) {
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${server.url}${action}`),
        page.goto(`${hostile.origin}/?action=${encodeURIComponent(action)}`),
      ]);
      expect([action, response.status()]).toEqual([action, 403]);
      expect(await response.text()).toContain('FORBIDDEN');
    }

    // Back on Spyglass: still signed in, no archive requested, nothing went live.
    await page.goto(server.url);
    const state = await page.evaluate(async () => ({
      me: (await fetch('/api/auth/me')).status,
      archive: (await (await fetch('/api/archives/latest')).json()) as unknown,
      live: (await (await fetch('/api/broadcasts')).json()) as unknown,
    }));
    expect(state).toEqual({ me: 200, archive: { archive: null }, live: { broadcasts: [], nextCursor: null } });
    const cookies = await context.cookies(server.url);
    expect(cookies.find((c) => c.name === 'spyglass_session')?.sameSite).toBe('Strict');
    await context.close();
  }, 60_000);
});
