import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../testkit/server.ts';

/** One HTTPS request that trusts the test's self-signed certificate. */
function httpsRequest(url: string, method: string, body?: unknown): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('built-in HTTPS', () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-tls-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    server = await startTestServer({ http: { tlsCertFile: cert, tlsKeyFile: key } });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the API over TLS and marks the session cookie Secure', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect((await httpsRequest(`${server.url}/healthz`, 'GET')).status).toBe(200);
    const res = await httpsRequest(`${server.url}/api/auth/signup`, 'POST', { username: 'tls_user', password: 'long enough password' });
    expect(res.status).toBe(201);
    expect(String(res.headers['set-cookie'])).toMatch(/;\s*Secure/i);
  });

  it('sends HSTS over HTTPS (and upgrade-insecure-requests in the CSP)', async () => {
    for (const p of ['/', '/api/broadcasts']) {
      const res = await httpsRequest(`${server.url}${p}`, 'GET');
      expect(res.headers['strict-transport-security'], p).toBe('max-age=15552000');
      expect(String(res.headers['content-security-policy']), p).toContain('upgrade-insecure-requests');
      expect(String(res.headers['content-security-policy']), p).toContain(`wss://${new URL(server.url).host}`);
    }
  });
});
