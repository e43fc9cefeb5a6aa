import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveSummary } from '../../common/protocol/archives.ts';
import { connect, nextEvent, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../testkit/workers.ts';

/**
 * Superseded and expired archives: their zips are deleted and their signed links answer 410,
 * over the real service (archives built by a real workers process).
 */
describe('security: old archives are deleted and their links stop working', () => {
  let server: TestServer;
  let workers: WorkersProcess | undefined;
  const sockets: ClientSocket[] = [];
  let offsetMs = 0;
  const clock = () => Date.now() + offsetMs;

  beforeAll(async () => {
    server = await startTestServer({}, { clock });
    workers = await spawnWorkers(server.config);
  }, 120_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await workers?.stop();
    await server?.stop();
  });

  const zipDir = (id: string) => path.join(server.dataDir, 'archives', id);

  async function build(user: { token: string }): Promise<ArchiveSummary> {
    const socket = await connect(server.url, user.token);
    sockets.push(socket);
    const res = await fetch(`${server.url}/api/archives`, { method: 'POST', headers: { authorization: `Bearer ${user.token}` } });
    expect(res.status).toBe(202);
    const { archive } = (await res.json()) as { archive: ArchiveSummary };
    const ready = await nextEvent(socket, 'archive:status', 60_000, (e) => e.archive.id === archive.id && e.archive.state === 'ready');
    return ready.archive;
  }

  async function download(url: string): Promise<{ status: number; code?: string; message?: string }> {
    const r = await fetch(`${server.url}${url}`);
    if (r.status === 200) {
      await r.arrayBuffer();
      return { status: 200 };
    }
    const { error } = (await r.json()) as { error: { code: string; message: string } };
    return { status: r.status, code: error.code, message: error.message };
  }

  async function until(check: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (check()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting until ${what}`);
  }

  it('a newer archive replaces the older one: its zip is deleted, its link answers 410; other users are untouched; expired zips go at start; a building archive stays', async () => {
    const alice = await signUp(server.url, 'cleanalice');
    const bob = await signUp(server.url, 'cleanbob');

    const first = await build(alice);
    const bobs = await build(bob);
    const zipOf = async (id: string) => path.join(zipDir(id), (await server.stores.archives.get(id))!.fileName!);
    const firstZip = await zipOf(first.id);
    expect(existsSync(firstZip)).toBe(true);
    expect(await download(first.downloadUrl!)).toEqual({ status: 200 });

    const second = await build(alice);
    // The first is deleted as soon as the second is ready (the result is applied before the event).
    await until(() => !existsSync(firstZip), 'the superseded zip is deleted');
    expect(existsSync(zipDir(first.id))).toBe(false);
    expect(await download(first.downloadUrl!)).toEqual({
      status: 410,
      code: 'LINK_EXPIRED',
      message: 'a newer archive replaced this one; download the newer one from your account page',
    });
    expect(await download(second.downloadUrl!)).toEqual({ status: 200 });
    // Another user's archive is untouched.
    expect(existsSync(await zipOf(bobs.id))).toBe(true);
    expect(await download(bobs.downloadUrl!)).toEqual({ status: 200 });
    expect(await server.stores.archives.get(first.id)).toMatchObject({ state: 'ready', deletedAt: expect.any(String) });
    expect(await server.stores.archives.get(second.id)).toMatchObject({ state: 'ready', deletedAt: null });

    // A third archive that stays in 'building' (no workers process to build it).
    await workers!.stop();
    workers = undefined;
    const res = await fetch(`${server.url}/api/archives`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}` } });
    const building = ((await res.json()) as { archive: ArchiveSummary }).archive;
    expect(building.state).toBe('building');
    expect(existsSync(zipDir(building.id))).toBe(true);

    // Restart past every link's expiry: the start-up sweep deletes the expired zips.
    for (const s of sockets.splice(0)) s.close();
    const { dataDir, config } = server;
    await server.stop({ keepData: true });
    offsetMs = (config.archives.linkTtlHours + 1) * 3600 * 1000;
    server = await startTestServer({ queuePrefix: config.queuePrefix, secret: config.secret }, { clock, dataDir });
    await until(() => !existsSync(zipDir(second.id)) && !existsSync(zipDir(bobs.id)), 'the expired zips are deleted');
    expect(await server.stores.archives.get(second.id)).toMatchObject({ deletedAt: expect.any(String) });
    expect(await server.stores.archives.get(bobs.id)).toMatchObject({ deletedAt: expect.any(String) });
    // The archive being built keeps its directory (its input).
    expect(await server.stores.archives.get(building.id)).toMatchObject({ state: 'building', deletedAt: null });
    expect(existsSync(path.join(zipDir(building.id), 'input.json'))).toBe(true);
  }, 180_000);
});
