import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { S3Storage } from '../../../common/storage/S3Storage.ts';
import { synthesiseClip } from '../../../testkit/media.ts';
import { FAULT_CLIP } from '../../faults/harness.ts';
import { PlainBroadcaster } from '../../../testkit/plainPeers.ts';
import { installPlainWebRtc } from '../../../testkit/plainWebRtc.ts';
import { rgwStorage, rgwStorageEnv, startRgw, type Rgw } from '../../helpers/rgw.ts';
import { signUp, startTestServer, type TestServer } from '../../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../../testkit/workers.ts';
import { decodeAll } from '../workers/mediaFixtures.ts';

const BUCKET = 'spyglass-recording';
const PREFIX = 'it';
/** The recorder's segment length (config default). */
const SEGMENT_SECONDS = 4;

/**
 * Recording through S3 (Ceph RGW): the recorder stores each segment in the bucket as soon as
 * ffmpeg has finished it, so when its workers host dies (kill -9) another one — with an
 * empty data directory and temporary directory of its own, sharing no disk — takes the
 * recording over and finalizes the replay from the bucket, with at most the segment in
 * flight lost. The broadcaster is synthetic (testkit/plainPeers.ts: the real socket.io
 * protocol and mediasoup, plain RTP instead of ICE/DTLS/SRTP).
 */
describe('recording on S3 storage (Ceph RGW)', () => {
  let rgw: Rgw;
  let bucket: S3Storage;
  let server: TestServer;
  let caster: PlainBroadcaster | undefined;
  const workers: WorkersProcess[] = [];
  /** Two workers "hosts": each its own data directory and TMPDIR (where S3Storage spools and downloads). */
  const root = mkdtempSync(path.join(os.tmpdir(), 'spyglass-s3-recording-'));
  const host = (name: string) => {
    const dirs = { data: path.join(root, name, 'data'), tmp: path.join(root, name, 'tmp') };
    mkdirSync(dirs.data, { recursive: true });
    mkdirSync(dirs.tmp, { recursive: true });
    return dirs;
  };

  beforeAll(async () => {
    installPlainWebRtc();
    rgw = await startRgw();
    server = await startTestServer({ storage: rgwStorage(rgw, BUCKET, PREFIX) });
    bucket = new S3Storage(rgwStorage(rgw, BUCKET, PREFIX));
  }, 180_000);
  afterAll(async () => {
    await caster?.close();
    for (const w of workers) await w.stop();
    await server?.stop();
    bucket?.close();
    // The bucket goes with the RGW.
    await rgw?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const startWorkersOn = async (dirs: { data: string; tmp: string }) => {
    const w = await spawnWorkers(server.config, { ...rgwStorageEnv(rgw, BUCKET, PREFIX), DATA_DIR: dirs.data, TMPDIR: dirs.tmp });
    workers.push(w);
    return w;
  };
  /** The stored segments of a recording, by run id. */
  const storedRuns = async (id: string): Promise<Map<string, string[]>> => {
    const runs = new Map<string, string[]>();
    for (const key of await bucket.list(`recordings/${id}`)) {
      const m = /^recordings\/[^/]+\/([^/]+)\/(seg-\d+\.mkv)$/.exec(key);
      if (m) runs.set(m[1]!, [...(runs.get(m[1]!) ?? []), m[2]!]);
    }
    return runs;
  };

  it('stores segments while live; after a kill -9 of the recording host, a host with an empty disk takes over and finalizes from the bucket', async () => {
    const hostA = host('a');
    const hostB = host('b');
    const first = await startWorkersOn(hostA);
    const clip = await synthesiseClip(FAULT_CLIP);
    const owner = await signUp(server.url, 's3recorder');
    caster = await PlainBroadcaster.start(server.url, owner.token, clip, 'Recorded into the bucket');
    const id = caster.broadcastId as BroadcastId;

    // Segments reach the bucket while the broadcast is live, each once ffmpeg has finished it.
    await expect.poll(async () => [...(await storedRuns(id)).values()].flat().length, { timeout: 60_000, interval: 250 }).toBeGreaterThanOrEqual(2);
    expect((await server.stores.broadcasts.get(id))?.status).toBe('live');
    const [runA, segmentsA] = [...(await storedRuns(id))][0]!;
    expect(await bucket.stat(`recordings/${id}/${runA}/run.json`)).not.toBeNull();
    // A stored segment is whole: it decodes to the end.
    const first0 = path.join(root, 'seg-00000.mkv');
    writeFileSync(first0, await bucket.readFile(`recordings/${id}/${runA}/${segmentsA[0]}`));
    await decodeAll(first0);
    // Nothing of the recording is on host A's data directory.
    expect(existsSync(path.join(hostA.data, 'recordings'))).toBe(false);

    // Host A dies mid-broadcast; what it had not stored yet is lost with it.
    await new Promise((r) => setTimeout(r, 3000));
    const killOffsetMs = Date.now() - caster.startedAt;
    first.kill('SIGKILL');
    await first.exited;
    // Host B: another data directory and temporary directory, nothing shared with A but the bucket.
    await startWorkersOn(hostB);
    await expect.poll(async () => (await storedRuns(id)).size, { timeout: 60_000, interval: 250 }).toBeGreaterThanOrEqual(2);
    await caster.stop();

    await expect.poll(async () => (await server.stores.replays.get(id))?.state, { timeout: 120_000, interval: 500 }).toBe('ready');
    const replay = (await server.stores.replays.get(id))!;
    expect(replay.timeline.length).toBeGreaterThanOrEqual(2);
    // Host A's run is in the replay up to its last stored segment: at most the one in flight is lost.
    const spanA = replay.timeline[0]!;
    const lostA = (killOffsetMs - (spanA.offsetMs + spanA.durationMs)) / 1000;
    console.info(
      `S3 recording, kill -9 of the recording host at ${(killOffsetMs / 1000).toFixed(1)} s: run A kept ${(spanA.durationMs / 1000).toFixed(1)} s from ${(spanA.offsetMs / 1000).toFixed(1)} s, lost ${lostA.toFixed(1)} s; replay ${(replay.durationMs! / 1000).toFixed(1)} s in ${replay.timeline.length} runs`,
    );
    // The segment in flight: up to SEGMENT_SECONDS plus a key-frame interval (1 s), plus the last upload (< 1 s).
    expect(lostA).toBeLessThan(SEGMENT_SECONDS + 2.5);
    expect(await bucket.stat(`replays/${id}/replay.mp4`)).not.toBeNull();
    // Finalize deletes the segments; host B's disk keeps nothing (its spool and downloads released).
    await expect.poll(() => bucket.list(`recordings/${id}`), { timeout: 10_000 }).toEqual([]);
    expect(existsSync(path.join(hostB.data, 'recordings'))).toBe(false);
    expect(existsSync(path.join(hostB.data, 'replays'))).toBe(false);
    await expect.poll(() => readdirSync(hostB.tmp).filter((f) => f.startsWith('spyglass-')), { timeout: 5000 }).toEqual([]);
  }, 300_000);
});
