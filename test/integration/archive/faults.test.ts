import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveSummary } from '../../../common/protocol/archives.ts';
import { manifestSha256 } from '../../helpers/archiveChecksum.ts';
import { connect, nextEvent, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../../testkit/workers.ts';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: 4 * MiB }), hash);
  return hash.digest('hex');
}

/** Runs mount/umount as root, or through passwordless sudo (as scripts/setup.sh does). */
function privileged(cmd: string, args: string[]): void {
  if (process.getuid?.() === 0) execFileSync(cmd, args, { stdio: 'pipe' });
  else execFileSync('sudo', ['-n', cmd, ...args], { stdio: 'pipe' });
}

/**
 * Archive faults over the real service: the workers process is killed -9 in the middle of a
 * zip, and the disk fills up in the middle of one (a real, small tmpfs under the archives).
 */
describe('archive faults', () => {
  let server: TestServer;
  let workers: WorkersProcess;
  const sockets: ClientSocket[] = [];
  let archivesDir: string;
  let mounted = false;

  /** A user with one ended broadcast whose replay.mp4 is `sizeMb` MiB (sparse: cheap to make, real bytes to read). */
  async function userWithReplay(name: string, sizeMb: number) {
    const who = await signUp(server.url, name);
    const socket = await connect(server.url, who.token);
    sockets.push(socket);
    const { broadcast } = await ok(socket, 'broadcast:start', { title: `${name}'s big one`, visibility: 'public', invitees: [] });
    // The replay is made ready while the broadcast is live: once it ends, the finalize job
    // finds no recorded media and would mark a still-open replay failed (never a ready one).
    const dir = path.join(server.dataDir, 'replays', broadcast.id);
    mkdirSync(dir, { recursive: true });
    const mp4 = path.join(dir, 'replay.mp4');
    writeFileSync(mp4, `${name}: a replay of ${sizeMb} MiB\n`);
    truncateSync(mp4, sizeMb * MiB);
    const sha256 = await sha256File(mp4);
    const applied = await server.stores.replays.applyOutput(broadcast.id, 'ready', {
      durationMs: 60_000,
      width: 640,
      height: 360,
      timeline: [{ offsetMs: 0, mediaStartMs: 0, durationMs: 60_000 }],
      poster: null,
      webm: null,
      videoMp4: null,
      hls: null,
      mp4: { name: 'replay.mp4', sizeBytes: sizeMb * MiB, sha256 },
    });
    expect(applied).toBe(true);
    await ok(socket, 'broadcast:stop', { broadcastId: broadcast.id });
    return { ...who, socket, sha256 };
  }

  const requestArchive = async (token: string): Promise<ArchiveSummary> => {
    const res = await fetch(`${server.url}/api/archives`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(202);
    return ((await res.json()) as { archive: ArchiveSummary }).archive;
  };

  beforeAll(async () => {
    server = await startTestServer();
    archivesDir = path.join(server.dataDir, 'archives');
    workers = await spawnWorkers(server.config);
  }, 120_000);

  afterAll(async () => {
    for (const s of sockets) s.close();
    await workers?.stop();
    if (mounted) privileged('umount', ['-l', archivesDir]);
    await server?.stop();
  });

  it('kill -9 of the workers mid-archive: never marked ready while partial; rebuilt from the start by the next workers', async () => {
    const user = await userWithReplay('killed', 1024);
    const ready = nextEvent(user.socket, 'archive:status', 150_000, (e) => e.archive.state === 'ready');
    const archive = await requestArchive(user.token);
    const dir = path.join(archivesDir, archive.id);
    const final = path.join(dir, 'spyglass-archive.zip');
    // Each attempt writes its own partial file, `spyglass-archive.zip.partial-<pid>-<random>`.
    const findPartial = () =>
      existsSync(dir) ? readdirSync(dir).find((n) => n.startsWith('spyglass-archive.zip.partial')) : undefined;
    let partial = '';

    // Kill once the zip is well under way.
    for (let i = 0; ; i++) {
      const name = findPartial();
      partial = name ? path.join(dir, name) : '';
      if (name && (statSync(partial, { throwIfNoEntry: false })?.size ?? 0) >= 64 * MiB) break;
      if (existsSync(final) || i > 3000) throw new Error(`the archive finished (or never started) before it could be killed:\n${workers.output()}`);
      await sleep(10);
    }
    workers.kill('SIGKILL');
    await workers.exited;
    const halfway = statSync(partial).size;
    expect(halfway).toBeLessThan(1024 * MiB);
    expect(existsSync(final)).toBe(false);
    expect((await server.stores.archives.get(archive.id))?.state).toBe('building');

    workers = await spawnWorkers(server.config);
    const done = (await ready).archive;
    expect(done).toMatchObject({ id: archive.id, state: 'ready', percent: 100 });
    expect(readdirSync(dir).sort()).toEqual(['input.json', 'spyglass-archive.zip']);
    expect(statSync(final).size).toBe(done.sizeBytes);
    execFileSync('unzip', ['-tq', final]);
    // The manifest's checksum of the big file is the file's.
    const manifest = JSON.parse(execFileSync('unzip', ['-p', final, '*/manifest.json']).toString()) as { files: Array<{ path: string; sha256: string; sizeBytes: number }> };
    const mp4 = manifest.files.find((f) => f.path.endsWith('/replay.mp4'))!;
    expect(mp4).toMatchObject({ sizeBytes: 1024 * MiB, sha256: user.sha256 });
    expect(manifestSha256(final)).toBe(done.sha256);
  }, 240_000);

  it('the disk fills up mid-archive: a clear failure, the partial file removed, the user told; a retry works once there is room', async () => {
    // A real small file system under the archives: 48 MiB, for a ~200 MiB zip.
    mkdirSync(archivesDir, { recursive: true });
    privileged('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'spyglass-test-archives', archivesDir]);
    mounted = true;
    const user = await userWithReplay('diskfull', 200);
    const failed = nextEvent(user.socket, 'archive:status', 60_000, (e) => e.archive.state === 'failed');
    const archive = await requestArchive(user.token);
    const told = (await failed).archive;
    expect(told.id).toBe(archive.id);
    expect(told.reason).toMatch(/Not enough disk space.*partial file was removed/);
    expect(told.downloadUrl).toBeNull();
    expect(readdirSync(path.join(archivesDir, archive.id))).toEqual(['input.json']);
    // The disk really was full: what failed was a write, not a quota.
    expect(workers.output()).toMatch(/ENOSPC|disk is full/i);

    // More room, and the user asks again.
    privileged('mount', ['-o', 'remount,size=512m', archivesDir]);
    const ready = nextEvent(user.socket, 'archive:status', 60_000, (e) => e.archive.state === 'ready');
    const again = await requestArchive(user.token);
    expect(again.id).not.toBe(archive.id);
    const done = (await ready).archive;
    expect(done.id).toBe(again.id);
    execFileSync('unzip', ['-tq', path.join(archivesDir, again.id, 'spyglass-archive.zip')]);
  }, 120_000);
});
