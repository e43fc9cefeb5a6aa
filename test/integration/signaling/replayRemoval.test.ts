import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../common/logger.ts';
import type { ArchiveInput } from '../../../common/jobs/archiveInput.ts';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { LocalDiskStorage } from '../../../common/storage/LocalDiskStorage.ts';
import type { Storage } from '../../../common/storage/Storage.ts';
import { archiveKey, ARCHIVE_INPUT_FILE } from '../../../common/storage/storageKeys.ts';
import { ReplayRemoval } from '../../../signaling/replays/ReplayRemoval.ts';
import { connect, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

const logger = createLogger({ level: 'silent' });

/**
 * The files of a deleted replay: gone from the storage, from the owner's pending archive input,
 * and again (by the sweep) when removing them failed or a worker wrote more afterwards.
 */
describe('deleted replays: files and pending archives', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  let owner: { token: string; user: { id: string } };

  async function endedReplay(title: string): Promise<BroadcastId> {
    const socket = await connect(server.url, owner.token);
    sockets.push(socket);
    const { broadcast } = await ok(socket, 'broadcast:start', { title, visibility: 'public', invitees: [] });
    await ok(socket, 'broadcast:stop', { broadcastId: broadcast.id });
    const dir = path.join(server.dataDir, 'replays', broadcast.id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'replay.mp4'), 'mp4');
    return broadcast.id;
  }

  beforeAll(async () => {
    // Recording on: the archive service exists (its jobs are not run here: no workers). The
    // server's own sweep waits an hour, so that only the test's sweeps remove files.
    server = await startTestServer({ recording: { removalSweepSeconds: 3600 } });
    owner = await signUp(server.url, 'remover');
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it('drops a deleted replay from the input of the archive being built, keeping the others', async () => {
    const gone = await endedReplay('to delete');
    const kept = await endedReplay('to keep');
    const res = await fetch(`${server.url}/api/archives`, { method: 'POST', headers: { authorization: `Bearer ${owner.token}` } });
    expect(res.status).toBe(202);
    const { archive } = (await res.json()) as { archive: { id: string; state: string } };
    expect(archive.state).toBe('building');
    const inputPath = path.join(server.dataDir, archiveKey(archive.id, ARCHIVE_INPUT_FILE));
    const read = async () => Promise.resolve(JSON.parse(readFileSync(inputPath, 'utf8')) as ArchiveInput);
    expect((await read()).broadcasts.map((b) => b.id).sort()).toEqual([gone, kept].sort());

    expect((await fetch(`${server.url}/api/replays/${gone}`, { method: 'DELETE', headers: { authorization: `Bearer ${owner.token}` } })).status).toBe(204);
    const after = await read();
    expect(after.broadcasts.map((b) => b.id)).toEqual([kept]);
    expect(after.profile.username).toBe('remover');
    expect(existsSync(path.join(server.dataDir, 'replays', gone))).toBe(false);
    expect(existsSync(path.join(server.dataDir, 'replays', kept, 'replay.mp4'))).toBe(true);
  }, 60_000);

  it('the sweep removes files it could not remove at once, and files a worker wrote after the deletion', async () => {
    const id = await endedReplay('flaky storage');
    const disk = new LocalDiskStorage(server.dataDir);
    let failing = true;
    // The storage refuses deletions for a while (an S3 outage).
    const flaky: Storage = Object.assign(Object.create(disk) as Storage, {
      deletePrefix: (prefix: string) => (failing ? Promise.reject(new Error('storage unreachable')) : disk.deletePrefix(prefix)),
    });
    const removal = new ReplayRemoval({ stores: server.stores, storage: flaky, logger });
    try {
      expect(await removal.delete(id)).toMatchObject({ broadcastId: id, purgedAt: null });
      // The database answers at once; the files are still there.
      expect(await server.stores.broadcasts.get(id)).toBeUndefined();
      expect(existsSync(path.join(server.dataDir, 'replays', id, 'replay.mp4'))).toBe(true);
      expect(await removal.sweep()).toBe(0);
      failing = false;
      expect(await removal.sweep()).toBeGreaterThanOrEqual(1);
      expect(existsSync(path.join(server.dataDir, 'replays', id))).toBe(false);
      expect((await server.stores.replays.tombstone(id))?.purgedAt).not.toBeNull();

      // A finalize job that was running writes its output late: its result marks it to remove again.
      mkdirSync(path.join(server.dataDir, 'replays', id), { recursive: true });
      writeFileSync(path.join(server.dataDir, 'replays', id, 'poster.jpg'), 'late');
      expect(await server.stores.replays.applyOutput(id, 'ready', { durationMs: 1, width: 1, height: 1, timeline: [], poster: 'poster.jpg', webm: null, videoMp4: null, hls: null, mp4: null })).toBe(false);
      expect(await server.stores.replays.markUnpurged(id)).toBe(true);
      expect(await removal.sweep()).toBeGreaterThanOrEqual(1);
      expect(existsSync(path.join(server.dataDir, 'replays', id))).toBe(false);
    } finally {
      await removal.close();
      await removal.close();
    }
  }, 60_000);
});
