import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../../common/errors.ts';
import type { WorkerPool } from '../../../sfu/index.ts';
import { createTestBroadcast, createTestPool, processAlive, waitFor } from '../../helpers/sfu.ts';

describe('WorkerPool', () => {
  let pool: WorkerPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it('starts N workers, each with its own WebRtcServer, and closes them idempotently', async () => {
    pool = await createTestPool({ numWorkers: 2 });
    expect(pool.workers).toHaveLength(2);
    const pids = pool.workers.map((w) => w.pid);
    expect(new Set(pids).size).toBe(2);
    for (const [i, w] of pool.workers.entries()) {
      expect(w.index).toBe(i);
      expect(w.alive).toBe(true);
      expect(processAlive(w.pid)).toBe(true);
      const dump = await w.webRtcServer.dump();
      expect(dump.udpSockets[0]?.ip).toBe('127.0.0.1');
      expect(dump.tcpServers[0]?.ip).toBe('127.0.0.1');
      expect(dump.udpSockets[0]?.port).toBeGreaterThan(0);
    }

    await Promise.all([pool.close(), pool.close()]);
    await pool.close();
    expect(pool.closed).toBe(true);
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    expect(() => pool?.pick()).toThrow(AppError);
  });

  it('pick() returns the least-loaded worker and honours exclude', async () => {
    pool = await createTestPool({ numWorkers: 3 });
    expect(pool.workers.map((w) => w.load)).toEqual([0, 0, 0]);
    expect(pool.pick().index).toBe(0);

    // A router counts 1: the next pick goes elsewhere.
    const a = await pool.pick().createRouter();
    expect(pool.workers[0]?.load).toBe(1);
    expect(pool.pick().index).toBe(1);
    const b = await pool.pick().createRouter();
    expect(pool.pick().index).toBe(2);
    expect(pool.pick(new Set([2])).index).toBe(0);
    expect(() => pool?.pick(new Set([0, 1, 2]))).toThrow(/no media worker/);

    // Closing routers gives the capacity back.
    a.close();
    b.close();
    expect(pool.workers.map((w) => w.load)).toEqual([0, 0, 0]);
  });

  it('replaces a worker killed with SIGKILL and keeps working; the process survives', async () => {
    pool = await createTestPool({ numWorkers: 2 });
    const victim = pool.workers[1];
    if (!victim) throw new Error('no worker 1');
    const oldPid = victim.pid;

    const died = waitFor(pool, 'workerdied');
    const replaced = waitFor(pool, 'workerreplaced');
    process.kill(oldPid, 'SIGKILL');

    const [deathInfo] = await died;
    expect(deathInfo.index).toBe(1);
    expect(deathInfo.pid).toBe(oldPid);
    expect(deathInfo.error).toBeInstanceOf(Error);
    const [replacement] = await replaced;
    expect(replacement.index).toBe(1);
    expect(replacement.pid).not.toBe(oldPid);

    expect(pool.workers[1]?.pid).toBe(replacement.pid);
    expect(pool.workers[1]?.alive).toBe(true);
    expect(processAlive(process.pid)).toBe(true);

    // The replacement serves: a broadcast on it can create a send transport.
    const broadcast = await createTestBroadcast(pool);
    const other = await createTestBroadcast(pool);
    expect(new Set([broadcast.originWorkerIndex, other.originWorkerIndex])).toEqual(new Set([0, 1]));
    const onReplacement = broadcast.originWorkerIndex === 1 ? broadcast : other;
    const t = await onReplacement.createSendTransport();
    expect(t.iceCandidates.length).toBeGreaterThan(0);
    broadcast.close();
    other.close();
  });

  it('reuses the same WebRTC port for the replacement when ports are fixed', async () => {
    // Outside the rtcMinPort..rtcMaxPort range the suites use for pipe transports.
    const base = 50000 + Math.floor(Math.random() * 9000);
    pool = await createTestPool({ numWorkers: 1, webRtcPort: base });
    const before = await pool.workers[0]?.webRtcServer.dump();
    expect(before?.udpSockets[0]?.port).toBe(base);
    const replaced = waitFor(pool, 'workerreplaced');
    process.kill(pool.workers[0]?.pid ?? 0, 'SIGKILL');
    await replaced;
    const after = await pool.workers[0]?.webRtcServer.dump();
    expect(after?.udpSockets[0]?.port).toBe(base);
    expect(after?.tcpServers[0]?.port).toBe(base);
  });

  it('logs a worker death with its index and pid into the injected logger', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    pool = await createTestPool({ numWorkers: 1, logger, logLevel: 'warn' });
    const pid = pool.workers[0]?.pid ?? 0;
    const replaced = waitFor(pool, 'workerreplaced');
    process.kill(pid, 'SIGKILL');
    await replaced;
    await vi.waitFor(() =>
      expect(lines).toContainEqual(expect.objectContaining({ level: 50, workerIndex: 0, pid, msg: 'media worker died' })),
    );
    expect(lines).toContainEqual(expect.objectContaining({ workerIndex: 0, pid: pool.workers[0]?.pid, msg: 'media worker replaced' }));
  });

  it('refuses to listen on 0.0.0.0 without an announced address', async () => {
    const err = await createTestPool({ listenIp: '0.0.0.0' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('BAD_REQUEST');
  });
});
