import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spyglassProcesses } from '../../testkit/procs.ts';
import type { TimelineSpan } from '../../common/replay/timeline.ts';
import { startSupervisor, type Supervisor } from '../../testkit/supervisor.ts';
import { finishAndCheck, goLive, receiving, requestArchive, type Target } from './harness.ts';

/**
 * Fault under load: the signalling process (HTTP, socket.io, the SFU) of a real `npm start`
 * (scripts/start.ts) is killed with SIGKILL while a recorded broadcast has 50 viewers. The
 * supervisor starts it again on the same port; the clients reconnect by themselves (socket.io)
 * and do what the web client does: the broadcaster asks to resume, viewers join again. The
 * new process ended the broadcast at its start (its media died with the old process), so the
 * broadcaster is refused and viewers are told it ended; its replay is finalised from what was
 * recorded until the crash. Prints FAULT-FIGURES; asserts the invariants.
 */
describe('fault under load: kill -9 the signalling process under npm start', () => {
  let sup: Supervisor | undefined;

  beforeAll(async () => {
    sup = await startSupervisor({ SPYGLASS_MEDIASOUP_WORKERS: '1' });
  });
  afterAll(async () => {
    await sup?.stop();
  });

  it('the supervisor restarts it; the broadcast ends, its replay and the archive are made; no job runs twice', async () => {
    const s = sup!;
    const target: Target = {
      url: s.url,
      redisUrl: s.redisUrl,
      queuePrefix: s.queuePrefix,
      dataDir: s.dataDir,
      async replayRow(id) {
        const db = new Database(path.join(s.dataDir, 'spyglass.db'), { readonly: true, fileMustExist: true });
        try {
          const r = db.prepare('select state, timeline, mp4_sha256, mp4_name from replays where broadcast_id = ?').get(id) as
            | { state: string; timeline: string; mp4_sha256: string | null; mp4_name: string | null }
            | undefined;
          return r && { state: r.state, timeline: JSON.parse(r.timeline) as TimelineSpan[], mp4Sha256: r.mp4_sha256, mp4Name: r.mp4_name };
        } finally {
          db.close();
        }
      },
    };
    const live = await goLive(target, 'sigkill');
    const archiveId = await requestArchive(target, live.token);
    const signaling = spyglassProcesses(s.pid).get('signaling');
    expect(signaling).toBeDefined();
    live.viewers.resetGaps();
    const mark = s.output().length;
    const faultAt = Date.now();
    process.kill(signaling!, 'SIGKILL');
    // The supervisor starts a new signalling process on the same port.
    await s.waitFor(/Spyglass is live at/, 60_000, mark);
    const restartedAfterMs = Date.now() - faultAt;
    const newSignaling = spyglassProcesses(s.pid).get('signaling');
    expect(newSignaling).toBeDefined();
    expect(newSignaling).not.toBe(signaling);
    // The clients reconnect and learn what became of the broadcast.
    const until = Date.now() + 30_000;
    while ((live.caster.live || live.viewers.stats().some((v) => v.ended === null)) && Date.now() < until) await sleep(250);
    await sleep(2000);
    const recovered = receiving(live);
    const notes = [
      `signalling back (prints its URL) ${restartedAfterMs} ms after the kill`,
      `broadcaster: ${live.caster.endReason ?? 'still live'}; resume failures: ${live.caster.resumeFailures.slice(0, 2).join(' | ')}`,
    ];
    await finishAndCheck(target, live, { scenario: 'kill -9 signalling under npm start', faultAt, recovered, archiveId, notes });
  }, 240_000);
});
