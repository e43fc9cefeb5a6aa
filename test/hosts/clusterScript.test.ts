import { execFileSync, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { HostNetwork } from '../../scripts/cluster/HostNetwork.ts';
import { HostProcess } from '../../scripts/cluster/HostProcess.ts';
import { DEFAULT_ADMIN_URL, ensurePostgres } from '../../testkit/postgres.ts';
import { freePort } from '../../testkit/supervisor.ts';

/**
 * `npm run cluster` (scripts/cluster.ts) as a user runs it: 3 nodes and a workers host in
 * their own namespaces, each node's URL printed and answering; Ctrl-C removes everything it
 * created. Without root it says so and creates nothing.
 */
const root = path.join(import.meta.dirname, '..', '..');
const name = `cs${randomInt(0, 1000)}`;

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`${name}-`));
}

async function databaseExists(db: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL ?? DEFAULT_ADMIN_URL });
  await client.connect();
  try {
    return (await client.query('select 1 from pg_database where datname = $1', [db])).rowCount === 1;
  } finally {
    await client.end();
  }
}

function cluster(args: string[], options: { uid?: number; gid?: number } = {}): HostProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/cluster.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', ...(process.env.TEST_DATABASE_URL ? { SPYGLASS_CLUSTER_PG_ADMIN: process.env.TEST_DATABASE_URL } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
  return new HostProcess('npm run cluster', 'machine', child);
}

describe('npm run cluster', () => {
  let run: HostProcess | undefined;
  afterAll(async () => {
    run?.kill('SIGKILL');
    await HostNetwork.remove(name);
  }, 60_000);

  it('says it needs root, and creates nothing, when run as another user', async () => {
    const p = cluster(['--name', name], { uid: 65534, gid: 65534 });
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('needs root');
    expect(namespaces()).toEqual([]);
  });

  it('refuses bad options with the reason, and creates nothing', async () => {
    for (const [args, reason] of [
      [['--nodes', '0'], '--nodes: 1 to 9'],
      [['--nodes', 'three'], '--nodes: 1 to 9'],
      [['--port', '80'], '--port: 1024 to 65535'],
      [['--name', 'Bad Name!'], 'network name'],
    ] as const) {
      const p = cluster(['--name', name, ...args, '--no-s3']);
      expect(await p.exited, args.join(' ')).toBe(1);
      expect(p.output()).toContain(reason);
      expect(namespaces()).toEqual([]);
    }
  }, 60_000);

  it('starts 3 nodes and a workers host on their own addresses, and Ctrl-C removes them', async () => {
    await ensurePostgres();
    const port = await freePort();
    run = cluster(['--name', name, '--subnet', String(randomInt(200, 250)), '--port', String(port)]);
    await run.waitFor(/Ctrl-C stops everything/, 150_000);
    const out = run.output();
    const urls = [...out.matchAll(/node ([abc]) {3}(http:\/\/localhost:\d+) {3}\(host (10\.213\.\d+\.\d+)/g)].map((m) => ({ id: m[1], url: m[2]!, address: m[3]! }));
    expect(urls.map((u) => u.id)).toEqual(['a', 'b', 'c']);
    expect(new Set(urls.map((u) => u.address)).size).toBe(3);
    expect(namespaces().sort()).toEqual(['a', 'b', 'c', 'w'].map((h) => `${name}-${h}`));
    const db = /PostgreSQL database (spyglass_cluster_[0-9a-f]+)/.exec(out)![1]!;
    expect(await databaseExists(db)).toBe(true);

    // Each node answers on its localhost URL (a browser's secure context) and on its own address.
    for (const u of urls) {
      expect((await fetch(`${u.url}/healthz`)).status).toBe(200);
      expect((await fetch(`http://${u.address}:8080/healthz`)).status).toBe(200);
      const page = await fetch(`${u.url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
    }
    // The nodes registered in the cluster's Redis: `npm run admin -- nodes`, as the script says to run it.
    const [, redisUrl, prefix] = /npm run admin -- nodes` with REDIS_URL=(\S+) SPYGLASS_QUEUE_PREFIX=(\S+)/.exec(out)!;
    const listed = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', 'nodes', '--json'], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, REDIS_URL: redisUrl, SPYGLASS_QUEUE_PREFIX: prefix },
    });
    const nodes = (JSON.parse(listed) as Array<{ id: string; url: string }>).sort((x, y) => x.id.localeCompare(y.id));
    expect(nodes.map((n) => n.id)).toEqual(['a', 'b', 'c']);
    // Each node's URL (where redirects and drains send browsers) is its localhost forward, as printed.
    for (const n of nodes) expect(out).toContain(`node ${n.id}   ${n.url}   (host`);

    run.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('stopped;');
    expect(namespaces()).toEqual([]);
    expect(execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' })).not.toContain(`${name}br`);
    expect(await databaseExists(db)).toBe(false);
    await expect(fetch(`${urls[0]!.url}/healthz`)).rejects.toThrow();
  }, 240_000);
});
