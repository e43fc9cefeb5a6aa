import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SECRET, isLoopbackHost, loadConfig } from '../../common/config.ts';
import { dataDirSecret } from '../../common/dataDirSecret.ts';

const run = promisify(execFile);
const root = path.join(import.meta.dirname, '..', '..');
const REAL = 'a-real-secret-of-some-length';

/**
 * The published development secret signs archive links: whoever knows it can mint them. It is
 * refused whenever the service can be reached from elsewhere, whatever the mode says, and a
 * one-host install that configures no secret gets a random one persisted in its data dir.
 */
describe('the published default secret', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'spyglass-secret-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('is refused on a public bind in every mode, with a message naming SPYGLASS_SECRET', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.20', 'spyglass.example.org', '[2001:db8::1]']) {
      for (const mode of [undefined, 'development', 'test', 'production']) {
        const env = { HOST: host, ...(mode ? { NODE_ENV: mode } : {}) };
        expect(() => loadConfig(env), `${host} ${mode}`).toThrow(/SPYGLASS_SECRET/);
        // Set explicitly to the published value: refused all the same.
        expect(() => loadConfig({ ...env, SPYGLASS_SECRET: DEFAULT_SECRET }), `${host} ${mode}`).toThrow(/SPYGLASS_SECRET/);
        // A generator is not used on a public bind: the secret must be configured.
        expect(() => loadConfig(env, {}, { secretWhenUnset: () => 'generated-secret-0123456789' }), `${host} ${mode}`).toThrow(/SPYGLASS_SECRET/);
        expect(loadConfig({ ...env, SPYGLASS_SECRET: REAL }).secret).toBe(REAL);
      }
    }
  });

  it('is refused behind a proxy whose public URL is not loopback', () => {
    expect(() => loadConfig({ SPYGLASS_PUBLIC_URL: 'https://spyglass.example.org' })).toThrow(/publicUrl host spyglass\.example\.org.*SPYGLASS_SECRET/);
    expect(loadConfig({ SPYGLASS_PUBLIC_URL: 'https://spyglass.example.org', SPYGLASS_SECRET: REAL }).secret).toBe(REAL);
    expect(loadConfig({ SPYGLASS_PUBLIC_URL: 'http://localhost:8080' }).secret).toBe(DEFAULT_SECRET);
  });

  it('is refused in production even on loopback, and no secret is generated there', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/production.*SPYGLASS_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production' }, {}, { secretWhenUnset: () => 'generated-secret-0123456789' })).toThrow(/SPYGLASS_SECRET/);
  });

  it('is accepted on loopback outside production when nothing generates one (tests, benches)', () => {
    for (const host of ['127.0.0.1', '127.0.0.53', 'localhost', '::1', '[::1]']) expect(loadConfig({ HOST: host }).secret, host).toBe(DEFAULT_SECRET);
  });

  it('knows loopback addresses from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', 'app.localhost', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '128.0.0.1', '10.0.0.1', 'localhost.example.org', 'example.org', '::2', '']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('on loopback with no secret configured, a random one is generated once, persisted 0600 and reused', () => {
    const dataDir = path.join(tmp(), 'data');
    const first = loadConfig({ DATA_DIR: dataDir }, {}, { secretWhenUnset: dataDirSecret });
    expect(first.secret).not.toBe(DEFAULT_SECRET);
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    const file = path.join(dataDir, 'secret');
    expect(readFileSync(file, 'utf8').trim()).toBe(first.secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = loadConfig({ DATA_DIR: dataDir }, {}, { secretWhenUnset: dataDirSecret });
    expect(second.secret).toBe(first.secret);
    // A configured secret wins over the file, and the file is left alone.
    expect(loadConfig({ DATA_DIR: dataDir, SPYGLASS_SECRET: REAL }, {}, { secretWhenUnset: dataDirSecret }).secret).toBe(REAL);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.secret);
    // Another data dir, another secret.
    expect(loadConfig({ DATA_DIR: path.join(tmp(), 'data') }, {}, { secretWhenUnset: dataDirSecret }).secret).not.toBe(first.secret);
  });

  it('refuses a secret file that holds no usable secret', () => {
    const dataDir = tmp();
    writeFileSync(path.join(dataDir, 'secret'), 'short\n');
    expect(() => dataDirSecret(dataDir)).toThrow(/delete it.*SPYGLASS_SECRET/);
  });

  it('processes starting together on an empty data dir agree on one secret', async () => {
    const dataDir = path.join(tmp(), 'data');
    const script = `import { dataDirSecret } from ${JSON.stringify(path.join(root, 'common', 'dataDirSecret.ts'))}; process.stdout.write(dataDirSecret(${JSON.stringify(dataDir)}));`;
    const outs = await Promise.all(
      Array.from({ length: 6 }, () => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root }).then((r) => r.stdout)),
    );
    expect(new Set(outs).size).toBe(1);
    expect(outs[0]).toBe(readFileSync(path.join(dataDir, 'secret'), 'utf8').trim());
  }, 60_000);

  it('the signalling process refuses to start on 0.0.0.0 without a secret (exit 2, names SPYGLASS_SECRET)', async () => {
    const dataDir = tmp();
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOST: '0.0.0.0', PORT: '0', DATA_DIR: dataDir };
    const err = await run(process.execPath, ['--import', 'tsx', 'signaling/main.ts'], { cwd: root, env, timeout: 30_000 }).then(
      () => undefined,
      (e: unknown) => e as { code?: number; stderr?: string },
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toMatch(/refusing the published default secret on a public address .*SPYGLASS_SECRET/);
  }, 60_000);
});
