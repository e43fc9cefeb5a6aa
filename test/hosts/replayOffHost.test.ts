import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKERS_METRICS_PORT, workerHosts } from '../../scripts/cluster/LocalCluster.ts';
import { startRgw, type Rgw } from '../../scripts/cluster/rgw.ts';
import { Hosts } from '../helpers/hosts.ts';
import { waitForReplay } from '../../testkit/liveUi.ts';

/**
 * A broadcast on node A, recorded by the workers host (its own namespace and disk: the origin
 * sends it SRTP over the network), stored in S3 (a real Ceph RGW): the replay, fetched through
 * node B, is complete and playable, and no node's data directory holds a file of it.
 */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe('a replay recorded off the nodes, stored in S3', () => {
  let rgw: Rgw;
  let hosts: Hosts;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'spyglass-replay-off-host-'));

  beforeAll(async () => {
    rgw = await startRgw();
    hosts = await Hosts.start({
      name: 'rp',
      nodes: ['a', 'b'],
      workers: 2,
      s3: { endpoint: rgw.endpoint, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, region: rgw.region, bucket: 'spyglass-hosts' },
      routes: [['a', 'b'], ['b']],
      env: { SPYGLASS_RECORDING: 'true', SPYGLASS_MIN_FREE_MB: '10' },
    });
  }, 240_000);
  afterAll(async () => {
    await hosts?.stop();
    await rgw?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }, 90_000);

  /**
   * The owner (the page's cookies) reads the replay of `id` through node B once it is ready:
   * downloads it, checks that every frame decodes, and returns its length and stream kinds.
   */
  async function replayThroughB(owner: Page, id: string): Promise<{ seconds: number; streams: string[] }> {
    const onB = await hosts.browser.newContext({ baseURL: hosts.balancers[1]!.url, storageState: await owner.context().storageState() });
    const page = await onB.newPage();
    const replay = await waitForReplay(page, id, 120_000);
    expect(replay.state).toBe('ready');
    const res = await page.request.get(`/api/replays/${id}/download`);
    expect(res.status()).toBe(200);
    const file = path.join(tmp, `${id}.mp4`);
    writeFileSync(file, await res.body());
    await onB.close();
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file]).toString()) as {
      format: { duration: string };
      streams: Array<{ codec_type: string }>;
    };
    // Every frame decodes.
    execFileSync('ffmpeg', ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-']);
    return { seconds: Number(probe.format.duration), streams: probe.streams.map((x) => x.codec_type).sort() };
  }

  async function endBroadcast(host: Page): Promise<void> {
    await host.getByRole('button', { name: 'End broadcast' }).click();
    await host.getByText('Broadcast ended').first().waitFor({ timeout: 15_000 });
  }

  /** What a workers host's /metrics says (on its own address); empty when it does not answer (killed). */
  async function metricsOf(host: string): Promise<string> {
    const res = await fetch(`http://${hosts.cluster.network.address(host)}:${WORKERS_METRICS_PORT}/metrics`).catch(() => undefined);
    return res ? await res.text() : '';
  }

  /** The recorder counters, summed over the workers hosts that answer. */
  async function workersMetrics(): Promise<{ segments: number; bytes: number; runs: Record<string, number> }> {
    const sum = { segments: 0, bytes: 0, runs: {} as Record<string, number> };
    for (const host of workerHosts(2)) {
      const text = await metricsOf(host);
      const value = (name: string) => Number(new RegExp(`^${name}\\{process="workers"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
      sum.segments += value('spyglass_recording_segments_stored_total');
      sum.bytes += value('spyglass_recording_stored_bytes_total');
      for (const m of text.matchAll(/^spyglass_recording_runs_ended_total\{outcome="([^"]+)",process="workers"\} (\d+)$/gm)) sum.runs[m[1]!] = (sum.runs[m[1]!] ?? 0) + Number(m[2]);
    }
    return sum;
  }

  /** The workers host running the broadcast's record job now, if any (its jobs_running gauge). */
  async function recordingHost(): Promise<string | undefined> {
    for (const host of workerHosts(2)) {
      if (/^spyglass_jobs_running\{queue="record",process="workers"\} 1$/m.test(await metricsOf(host))) return host;
    }
    return undefined;
  }

  it('is complete and playable through another node, and never touches a node’s disk', async () => {
    const { host, id } = await hosts.goLive(0, 'off_host_owner', 'Recorded elsewhere');
    const liveFor = 8000;
    await host.waitForTimeout(liveFor);
    await endBroadcast(host);

    const replay = await replayThroughB(host, id);
    console.log(`replay recorded on the workers host: ${replay.seconds.toFixed(2)} s for a broadcast of about ${liveFor / 1000} s; streams ${replay.streams.join(', ')}`);
    expect(replay.streams).toEqual(['audio', 'video']);
    expect(replay.seconds).toBeGreaterThan(liveFor / 1000 - 2);

    // The workers host's /metrics count what it stored, and one run that ended with the broadcast.
    const metrics = await workersMetrics();
    expect(metrics.segments).toBeGreaterThan(0);
    expect(metrics.bytes).toBeGreaterThan(metrics.segments * 1000);
    expect(metrics.runs.ended).toBeGreaterThanOrEqual(1);

    // The nodes' data directories hold no media: no recording, no replay.
    for (const node of hosts.cluster.nodes) {
      const media = filesUnder(node.dataDir).filter((f) => /^(recordings|replays|archives)\//.test(f));
      expect(media, `node ${node.id}`).toEqual([]);
    }
  }, 240_000);

  it('goes on from the new origin when the origin is killed mid-broadcast: the replay lacks only the gap', async () => {
    const { host, id, t0 } = await hosts.goLive(0, 'origin_dies_owner', 'The origin dies');
    await host.waitForTimeout(6000);
    hosts.cluster.node('a').process.kill('SIGKILL');
    const killedAt = performance.now();
    const state = host.locator('.broadcast-state');
    await expect.poll(async () => (await state.textContent()) ?? '', { timeout: 10_000, interval: 50 }).toContain('Reconnecting');
    await expect.poll(async () => (await state.textContent()) ?? '', { timeout: 30_000, interval: 100 }).toContain('You are live');
    const gapMs = performance.now() - killedAt;
    await host.waitForTimeout(6000);
    await endBroadcast(host);
    const onAirMs = performance.now() - t0;

    const replay = await replayThroughB(host, id);
    // The run on A ended with a gap (next-run) before the run on B.
    expect((await workersMetrics()).runs['next-run']).toBeGreaterThanOrEqual(1);
    console.log(
      `origin killed while recording: on air ${(onAirMs / 1000).toFixed(1)} s with a gap of ${(gapMs / 1000).toFixed(1)} s until the broadcaster was live on B; replay ${replay.seconds.toFixed(2)} s (${replay.streams.join(', ')})`,
    );
    expect(replay.streams).toEqual(['audio', 'video']);
    // Both halves are in it: at least the time on air minus the gap, less 4 s for the new run's
    // start on B (tap, ffmpeg, first keyframe; slower on a busy machine) and the cuts at keyframes.
    // Before the origin-moved announcement, the second half was missing (6.0 s of 14.2 s).
    expect(replay.seconds).toBeGreaterThan((onAirMs - gapMs) / 1000 - 4);
  }, 240_000);

  it('loses at most the segment in flight, plus the takeover, when the recording workers host is killed', async () => {
    const { host, id, t0 } = await hosts.goLive(1, 'workers_die_owner', 'The workers host dies');
    await expect.poll(recordingHost, { timeout: 15_000 }).toBeDefined();
    await host.waitForTimeout(7000);
    const victim = (await recordingHost())!;
    const survivor = workerHosts(2).find((h) => h !== victim)!;
    const victimProcess = hosts.cluster.workers.find((w) => w.host === victim)!;
    const killedAt = performance.now();
    victimProcess.kill('SIGKILL');
    // The survivor takes the record job over once the dead host's BullMQ lock lapses.
    await expect.poll(recordingHost, { timeout: 30_000, interval: 100 }).toBe(survivor);
    const takeoverMs = performance.now() - killedAt;
    await host.waitForTimeout(8000);
    await endBroadcast(host);
    const onAirMs = performance.now() - t0;

    const replay = await replayThroughB(host, id);
    const lostMs = onAirMs - replay.seconds * 1000;
    // What was lost besides the time nobody recorded (the takeover): the segment in flight at the kill.
    const inFlightMs = lostMs - takeoverMs;
    console.log(
      `kill -9 of the recording workers host (${victim}): on air ${(onAirMs / 1000).toFixed(1)} s, ${survivor} took over ${(takeoverMs / 1000).toFixed(1)} s later; replay ${replay.seconds.toFixed(2)} s, so ${(lostMs / 1000).toFixed(1)} s lost, ${(inFlightMs / 1000).toFixed(1)} s of it besides the takeover`,
    );
    expect(replay.streams).toEqual(['audio', 'video']);
    // At most one segment (4 s) besides the takeover, with 3 s for the new run's start (the job is
    // taken over before its tap and ffmpeg run) and the cuts at keyframes.
    expect(inFlightMs).toBeLessThan(4000 + 3000);
  }, 240_000);
});
