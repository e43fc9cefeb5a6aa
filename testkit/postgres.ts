import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { adminQuery } from '../scripts/cluster/adminQuery.ts';

const run = promisify(execFile);

/** Admin URL used when TEST_DATABASE_URL is not set: the local cluster (trust auth ignores the password; a cluster set-up installed has it). */
export const DEFAULT_ADMIN_URL = 'postgres://postgres:postgres@127.0.0.1:5432/postgres';

const START_TIMEOUT_MS = 15_000;

function adminUrl(): string {
  return process.env.TEST_DATABASE_URL ?? DEFAULT_ADMIN_URL;
}

function isLocal(url: string): boolean {
  const host = new URL(url).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]';
}

async function tryConnect(url: string): Promise<Error | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  } finally {
    await client.end().catch(() => undefined);
  }
}

function installedVersions(): string[] {
  if (!existsSync('/usr/bin/pg_ctlcluster') || !existsSync('/etc/postgresql')) return [];
  return readdirSync('/etc/postgresql').filter((v) => existsSync(`/etc/postgresql/${v}/main`));
}

async function install(): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['install', '-y', 'postgresql'], { env, timeout: 600_000 });
  } catch {
    // The package lists may be missing or stale: refresh once and retry.
    await run('apt-get', ['update'], { env, timeout: 300_000 });
    await run('apt-get', ['install', '-y', 'postgresql'], { env, timeout: 600_000 });
  }
}

async function start(): Promise<void> {
  let versions = installedVersions();
  if (versions.length === 0) {
    await install();
    versions = installedVersions();
    if (versions.length === 0) throw new Error('apt-get installed postgresql but no cluster exists under /etc/postgresql/*/main');
  }
  for (const version of versions) {
    try {
      await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { timeout: 30_000 });
    } catch (err) {
      // "Cluster is already running." (on stdout) exits 2; other failures are reported and
      // the connect loop below decides.
      const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
      const output = `${stdout}${stderr}`.trim();
      if (!/already running/i.test(output)) process.stderr.write(`pg_ctlcluster ${version} main start failed: ${output || String(err)}\n`);
    }
  }
}

let ready: Promise<void> | undefined;

/**
 * Makes sure the PostgreSQL server at TEST_DATABASE_URL (default: local, user postgres)
 * accepts connections. A local server that is down is started (and installed with apt-get
 * when missing); then connecting is retried for ~15 s. Throws a clear error otherwise:
 * the PostgreSQL suite never skips silently.
 */
export function ensurePostgres(): Promise<void> {
  ready ??= (async () => {
    const url = adminUrl();
    let err = await tryConnect(url);
    if (!err) return;
    if (!isLocal(url)) throw new Error(`PostgreSQL at ${redact(url)} is unreachable: ${err.message}`);
    await start();
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (err && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      err = await tryConnect(url);
    }
    if (err) throw new Error(`PostgreSQL at ${redact(url)} did not come up within ${START_TIMEOUT_MS / 1000} s: ${err.message}`);
  })();
  ready.catch(() => {
    ready = undefined;
  });
  return ready;
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** A throwaway database: its URL, and `drop()` for afterAll. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates a uniquely named database (`spyglass_test_<hex>`) on the test server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  await ensurePostgres();
  const admin = adminUrl();
  const name = `spyglass_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(admin, `create database "${name}"`);
  const u = new URL(admin);
  u.pathname = `/${name}`;
  let dropped = false;
  return {
    url: u.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await adminQuery(admin, `drop database if exists "${name}" with (force)`);
    },
  };
}

