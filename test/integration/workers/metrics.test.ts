import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../testkit/server.ts';
import { freePort } from '../../../testkit/supervisor.ts';
import { spawnWorkers, type WorkersProcess } from '../../../testkit/workers.ts';

describe('workers process /metrics (metrics.workersPort)', () => {
  let server: TestServer;
  let workers: WorkersProcess;
  let url: string;
  beforeAll(async () => {
    server = await startTestServer();
    const port = await freePort();
    url = `http://127.0.0.1:${port}/metrics`;
    workers = await spawnWorkers(server.config, { SPYGLASS_WORKERS_METRICS_PORT: String(port) });
  });
  afterAll(async () => {
    await workers?.stop();
    await server?.stop();
  });

  it('serves the queue counts, the jobs it runs and Node’s own metrics, without a user or broadcast label', async () => {
    await expect.poll(async () => (await fetch(url).catch(() => undefined))?.status, { timeout: 15_000 }).toBe(200);
    const text = await (await fetch(url)).text();
    expect(text).toMatch(/^spyglass_jobs_running\{queue="record",process="workers"\} 0$/m);
    expect(text).toMatch(/^spyglass_queue_jobs\{queue="record",state="waiting",process="workers"\} \d+$/m);
    expect(text).toMatch(/^spyglass_disk_free_bytes\{process="workers"\} [1-9]/m);
    expect(text).toMatch(/^spyglass_recording_segments_stored_total\{process="workers"\} 0$/m);
    expect(text).toMatch(/^spyglass_recording_segment_store_failures_total\{process="workers"\} 0$/m);
    expect(text).toContain('spyglass_nodejs_heap_size_used_bytes');
    expect((await fetch(url.replace(/metrics$/, 'other'))).status).toBe(404);
  });
});
