import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRgw, type Rgw } from '../../scripts/cluster/rgw.ts';
import { Hosts } from '../helpers/hosts.ts';
import { goLiveInPage, signUpInPage, waitForReplay, waitUntilSending } from '../helpers/liveUi.ts';

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
      workers: true,
      s3: { endpoint: rgw.endpoint, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, region: rgw.region, bucket: 'spyglass-hosts' },
      routes: [['a'], ['b']],
      env: { SPYGLASS_RECORDING: 'true', SPYGLASS_MIN_FREE_MB: '10' },
    });
  }, 240_000);
  afterAll(async () => {
    await hosts?.stop();
    await rgw?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }, 90_000);

  it('is complete and playable through another node, and never touches a node’s disk', async () => {
    const host = await hosts.page(0);
    await signUpInPage(host, 'off_host_owner');
    const id = await goLiveInPage(host, 'Recorded elsewhere');
    await waitUntilSending(host);
    const liveFor = 8000;
    await host.waitForTimeout(liveFor);
    await host.getByRole('button', { name: 'End broadcast' }).click();
    await host.getByText('Broadcast ended').first().waitFor({ timeout: 15_000 });

    // The owner, signed in on the same cookie, reads the replay through node B.
    const onB = await hosts.browser.newContext({ baseURL: hosts.balancers[1]!.url, storageState: await host.context().storageState() });
    const page = await onB.newPage();
    const replay = await waitForReplay(page, id, 120_000);
    expect(replay.state).toBe('ready');
    const res = await page.request.get(`/api/replays/${id}/download`);
    expect(res.status()).toBe(200);
    const file = path.join(tmp, 'replay.mp4');
    writeFileSync(file, await res.body());
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file]).toString()) as {
      format: { duration: string };
      streams: Array<{ codec_type: string; nb_frames?: string }>;
    };
    const seconds = Number(probe.format.duration);
    console.log(`replay recorded on the workers host: ${seconds.toFixed(2)} s for a broadcast of about ${liveFor / 1000} s; streams ${probe.streams.map((s) => s.codec_type).join(', ')}`);
    expect(probe.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    expect(seconds).toBeGreaterThan(liveFor / 1000 - 2);
    // Every frame decodes.
    execFileSync('ffmpeg', ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-']);

    // The nodes' data directories hold no media: no recording, no replay.
    for (const node of hosts.cluster.nodes) {
      const media = filesUnder(node.dataDir).filter((f) => /^(recordings|replays|archives)\//.test(f));
      expect(media, `node ${node.id}`).toEqual([]);
    }
  }, 240_000);
});
