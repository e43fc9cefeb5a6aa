import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SECRET, loadConfig, proxyHops } from '../../../common/config.ts';

describe('loadConfig', () => {
  it('runs on defaults', () => {
    const c = loadConfig({});
    expect(c.mode).toBe('development');
    expect(c.dataDir).toBe('./data');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.http).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(c.live.graceSeconds).toBe(30);
    expect(c.mediasoup.numWorkers).toBeGreaterThanOrEqual(1);
  });

  it('layers defaults, then the file, then the environment', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ http: { port: 9000, host: '0.0.0.0' }, live: { graceSeconds: 5 }, secret: 'a-real-secret-of-some-length' }));
    const c = loadConfig({ SPYGLASS_CONFIG: file, PORT: '9100', SPYGLASS_TRUST_PROXY: 'true' });
    expect(c.http).toMatchObject({ port: 9100, host: '0.0.0.0', trustProxy: true });
    expect(c.live.graceSeconds).toBe(5);
  });

  it('takes http.trustProxy as true, false or a number of proxies, and refuses anything else', () => {
    expect(loadConfig({ SPYGLASS_TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(proxyHops(loadConfig({ SPYGLASS_TRUST_PROXY: 'true' }).http.trustProxy)).toBe(1);
    expect(proxyHops(loadConfig({}).http.trustProxy)).toBe(0);
    expect(() => loadConfig({ SPYGLASS_TRUST_PROXY: 'all' })).toThrow(/SPYGLASS_TRUST_PROXY must be true or false/);
    expect(() => loadConfig({ SPYGLASS_TRUST_PROXY: '11' })).toThrow(/trustProxy/);
  });

  it('rejects unknown keys in the file and unknown SPYGLASS_ variables', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ htpp: { port: 1 } }));
    expect(() => loadConfig({ SPYGLASS_CONFIG: file })).toThrow(/htpp/);
    expect(() => loadConfig({ SPYGLASS_PORTT: '1' })).toThrow(/unknown environment variable SPYGLASS_PORTT/);
  });

  it('rejects bad values with the key named', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT must be a number/);
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/http\.port/);
    expect(() => loadConfig({ REDIS_URL: 'http://x' })).toThrow(/redisUrl/);
    expect(() => loadConfig({ SPYGLASS_TRUST_PROXY: 'maybe' })).toThrow(/true or false/);
    expect(() => loadConfig({ SPYGLASS_CONFIG: '/nonexistent/spyglass.json' })).toThrow(/cannot read/);
    expect(() => loadConfig({ SPYGLASS_ARCHIVE_SWEEP_GAP_SECONDS: '-1' })).toThrow(/archives\.sweepGapSeconds/);
    // Rate-limit windows are Redis TTLs, in whole seconds.
    expect(() => loadConfig({}, { live: { chatWindowSeconds: 0.5 } })).toThrow(/live\.chatWindowSeconds/);
    expect(() => loadConfig({ SPYGLASS_ARCHIVE_BACKGROUND_MBPS: 'fast' })).toThrow(/SPYGLASS_ARCHIVE_BACKGROUND_MBPS must be a number/);
    expect(() => loadConfig({ SPYGLASS_ARCHIVE_BACKGROUND_MBPS: '-5' })).toThrow(/archives\.backgroundMbPerSecond/);
    expect(loadConfig({ SPYGLASS_ARCHIVE_SWEEP_GAP_SECONDS: '0.5', SPYGLASS_ARCHIVE_BACKGROUND_MBPS: '0' }).archives).toMatchObject({ sweepGapSeconds: 0.5, backgroundMbPerSecond: 0 });
  });

  it('takes TURN URLs, a shared secret, a credential lifetime and relay-only from the environment', () => {
    const urls = 'turn:turn.example.org:3478?transport=udp, turns:turn.example.org:443?transport=tcp,turn:[2001:db8::1]';
    const c = loadConfig({ SPYGLASS_TURN_URLS: urls, SPYGLASS_TURN_SECRET: 'a-turn-secret-of-length', SPYGLASS_TURN_CREDENTIAL_TTL_SECONDS: '3600', SPYGLASS_TURN_FORCE_RELAY: '1' });
    expect(c.turn).toEqual({
      urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:443?transport=tcp', 'turn:[2001:db8::1]'],
      secret: 'a-turn-secret-of-length',
      credentialTtlSeconds: 3600,
      forceRelay: true,
    });
    expect(loadConfig({}).turn).toEqual({ urls: [], credentialTtlSeconds: 86_400, forceRelay: false });
  });

  it('refuses TURN settings that cannot work', () => {
    const secret = { SPYGLASS_TURN_SECRET: 'a-turn-secret-of-length' };
    expect(() => loadConfig({ SPYGLASS_TURN_URLS: 'turn:turn.example.org' })).toThrow(/turn\.secret: turn\.secret is required/);
    expect(() => loadConfig({ SPYGLASS_TURN_URLS: 'https://turn.example.org', ...secret })).toThrow(/turn\.urls\.0: must be a TURN URL/);
    expect(() => loadConfig({ SPYGLASS_TURN_URLS: 'turn:turn.example.org:99999', ...secret })).toThrow(/1–65535/);
    expect(() => loadConfig({ SPYGLASS_TURN_URLS: 'turn:turn.example.org?transport=sctp', ...secret })).toThrow(/must be a TURN URL/);
    expect(() => loadConfig({ SPYGLASS_TURN_URLS: 'turn:turn.example.org', SPYGLASS_TURN_SECRET: 'short' })).toThrow(/at least 16/);
    expect(() => loadConfig(secret)).toThrow(/need turn\.urls/);
    expect(() => loadConfig({ SPYGLASS_TURN_FORCE_RELAY: 'true' })).toThrow(/need turn\.urls/);
    expect(() => loadConfig({ SPYGLASS_TURN_URLS: 'turn:t.example.org', ...secret, SPYGLASS_TURN_CREDENTIAL_TTL_SECONDS: '10' })).toThrow(/turn\.credentialTtlSeconds/);
    // The TURN server holds its secret: it must not be the one that signs links and sessions.
    expect(() => loadConfig({ SPYGLASS_SECRET: 'one-secret-for-everything', SPYGLASS_TURN_URLS: 'turn:t.example.org', SPYGLASS_TURN_SECRET: 'one-secret-for-everything' })).toThrow(/turn\.secret must differ/);
  });

  it('refuses the default secret in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/default secret/);
    expect(loadConfig({ NODE_ENV: 'production', SPYGLASS_SECRET: 'a-real-secret-of-some-length' }).secret).not.toBe(DEFAULT_SECRET);
  });

  it('takes the relay settings of a node (idle time, direct edges), and refuses bad ones with the reason', () => {
    expect(loadConfig({}).cluster).toMatchObject({ relayIdleMs: 10_000, maxDirectEdges: 8 });
    expect(loadConfig({ SPYGLASS_RELAY_IDLE_MS: '0', SPYGLASS_MAX_DIRECT_EDGES: '1' }).cluster).toMatchObject({ relayIdleMs: 0, maxDirectEdges: 1 });
    expect(() => loadConfig({ SPYGLASS_MAX_DIRECT_EDGES: 'many' })).toThrow(/SPYGLASS_MAX_DIRECT_EDGES must be a number/);
    for (const bad of ['0', '-3', '2.5', '1001']) expect(() => loadConfig({ SPYGLASS_MAX_DIRECT_EDGES: bad })).toThrow(/cluster\.maxDirectEdges/);
    for (const bad of ['-1', '0.5', '3600001']) expect(() => loadConfig({ SPYGLASS_RELAY_IDLE_MS: bad })).toThrow(/cluster\.relayIdleMs/);
  });

  it('takes the join-redirect settings of a node, and refuses bad ones with the reason', () => {
    expect(loadConfig({}).cluster).toMatchObject({ maxConsumersPerWorker: 200 });
    expect(loadConfig({}).cluster.nodeUrl).toBeUndefined();
    const set = loadConfig({ SPYGLASS_MAX_CONSUMERS_PER_WORKER: '0', SPYGLASS_NODE_URL: 'http://127.0.0.1:8441/' }).cluster;
    expect(set).toMatchObject({ maxConsumersPerWorker: 0, nodeUrl: 'http://127.0.0.1:8441' });
    expect(() => loadConfig({ SPYGLASS_MAX_CONSUMERS_PER_WORKER: 'lots' })).toThrow(/SPYGLASS_MAX_CONSUMERS_PER_WORKER must be a number/);
    expect(() => loadConfig({ SPYGLASS_MAX_CONSUMERS_PER_WORKER: '-1' })).toThrow(/cluster\.maxConsumersPerWorker/);
    expect(() => loadConfig({ SPYGLASS_MAX_CONSUMERS_PER_WORKER: '1.5' })).toThrow(/cluster\.maxConsumersPerWorker/);
    expect(() => loadConfig({ SPYGLASS_NODE_URL: 'https://live.example.org:8441/node-a' })).toThrow(/cluster\.nodeUrl: must be an origin/);
    expect(() => loadConfig({ SPYGLASS_NODE_URL: 'ftp://live.example.org' })).toThrow(/cluster\.nodeUrl/);
    // The session cookie reaches other ports of the public host name, never another host name.
    const secret = { SPYGLASS_SECRET: 'a-real-secret-of-some-length', SPYGLASS_PUBLIC_URL: 'https://live.example.org' };
    expect(loadConfig({ ...secret, SPYGLASS_NODE_URL: 'https://live.example.org:8441' }).cluster.nodeUrl).toBe('https://live.example.org:8441');
    expect(() => loadConfig({ ...secret, SPYGLASS_NODE_URL: 'https://node-a.example.org' })).toThrow(/cluster\.nodeUrl must be on the host name of http\.publicUrl \(live\.example\.org\)/);
  });

  it('requires TLS cert and key together', () => {
    expect(() => loadConfig({ SPYGLASS_TLS_CERT: '/x.pem' })).toThrow(/go together/);
  });
});
