import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type ConfigInput } from '../../common/config.ts';
import { createTestDatabase, type TestDatabase } from '../../testkit/postgres.ts';
import { runScript } from '../helpers/scripts.ts';
import { signUp, startTestServer, type TestServer } from '../../testkit/server.ts';


const asAdmin = (server: TestServer, token: string, p: string) => fetch(`${server.url}${p}`, { headers: { authorization: `Bearer ${token}` } });

/**
 * Admin used to be granted by name in config (SPYGLASS_ADMINS=opsadmin): whoever signed up
 * first as `OpsAdmin` got the sunset admin API and the job dashboard. Admin is now the role
 * of an existing account, granted by id through the CLI; the old setting refuses to start.
 */
describe('admin is a role on an existing account, never a configured name', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('refuses to start with the old admins setting (env, file or override), pointing at grant-admin', async () => {
    expect(() => loadConfig({ SPYGLASS_ADMINS: 'opsadmin' })).toThrow(/no longer supported.*grant-admin/s);
    expect(() => loadConfig({ SPYGLASS_ADMINS: '' })).toThrow(/grant-admin/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-admins-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ admins: ['opsadmin'] }));
    expect(() => loadConfig({ SPYGLASS_CONFIG: file })).toThrow(/grant-admin/);
    await expect(startTestServer({ admins: ['opsadmin'] } as unknown as ConfigInput)).rejects.toThrow(/grant-admin/);

    // The real process: exit code 2 (bad config) with the message, before listening.
    const r = await runScript('signaling/main.ts', [], { SPYGLASS_ADMINS: 'opsadmin', DATA_DIR: dir, PORT: '0' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('SPYGLASS_ADMINS');
    expect(r.stderr).toContain('npm run admin -- grant-admin <username>');
  }, 90_000);

  it('a newcomer who signs up as the formerly configured admin name gets 404 from the admin API and the job dashboard', async () => {
    const server = await startTestServer();
    cleanup.push(() => server.stop());
    const squatter = await signUp(server.url, 'OpsAdmin');
    for (const p of ['/api/admin/sunset', '/admin/queues', '/admin/queues/api/queues']) {
      const res = await asAdmin(server, squatter.token, p);
      expect(res.status, p).toBe(404);
    }
    const put = await fetch(`${server.url}/api/admin/sunset`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${squatter.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ announceAt: new Date(Date.now() + 3600_000).toISOString() }),
    });
    expect(put.status).toBe(404);
    expect(await server.stores.sunset.current()).toBeUndefined();
  }, 60_000);

  for (const dialect of ['sqlite', 'postgres'] as const) {
    it(`grant-admin and revoke-admin (the CLI, ${dialect}) act on the account by id, at once, audited`, async () => {
      let pgDb: TestDatabase | undefined;
      if (dialect === 'postgres') {
        pgDb = await createTestDatabase();
        cleanup.push(() => pgDb!.drop());
      }
      const server = await startTestServer({ recording: { enabled: false }, ...(pgDb ? { databaseUrl: pgDb.url } : {}) });
      cleanup.push(() => server.stop());
      const env = pgDb ? { DATABASE_URL: pgDb.url } : { DATA_DIR: server.dataDir };
      const cli = (...args: string[]) => runScript('scripts/admin.ts', args, env);

      const missing = await cli('grant-admin', 'ops');
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no user named "ops"');

      const ops = await signUp(server.url, 'Ops');
      expect((await asAdmin(server, ops.token, '/api/admin/sunset')).status).toBe(404);

      const grant = await cli('grant-admin', 'ops');
      expect(grant.code, grant.stderr).toBe(0);
      expect(grant.stdout).toContain('Ops is now an admin');
      expect((await server.stores.users.findById(ops.user.id))?.role).toBe('admin');
      expect((await asAdmin(server, ops.token, '/api/admin/sunset')).status).toBe(200);
      expect((await server.stores.audit.list())[0]).toMatchObject({ actorId: 'cli', action: 'user.grant-admin', details: { userId: ops.user.id, username: 'Ops' } });
      expect((await cli('grant-admin', 'OPS')).stdout).toContain('Ops is already an admin');

      const revoke = await cli('revoke-admin', 'ops');
      expect(revoke.code, revoke.stderr).toBe(0);
      expect(revoke.stdout).toContain('Ops is no longer an admin');
      // The role is read on every request: the same session loses the admin API at once.
      expect((await asAdmin(server, ops.token, '/api/admin/sunset')).status).toBe(404);
      expect((await server.stores.audit.list())[0]).toMatchObject({ actorId: 'cli', action: 'user.revoke-admin', details: { userId: ops.user.id, username: 'Ops' } });
      expect((await cli('revoke-admin', 'ops')).stdout).toContain('Ops is not an admin');
      expect((await cli('revoke-admin')).code).toBe(2);
    }, 120_000);
  }
});
