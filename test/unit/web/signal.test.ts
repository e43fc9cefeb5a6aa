import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../common/protocol/errors.ts';
import { Signal } from '../../../web/src/signaling.ts';
import { freePort } from '../../../testkit/supervisor.ts';

/**
 * What the watch page needs of `Signal` to follow a join redirect and to come back from a node
 * it cannot reach (web/src/pages/watch.ts): a failed connection is reported, and closing the
 * signal ends the requests still waiting at once instead of after their 10 s timeout.
 */
describe('Signal (web client) against a bare socket.io server', () => {
  const server = http.createServer();
  const io = new Server(server, { transports: ['websocket'] });
  let url = '';
  const signals: Signal[] = [];
  const open = (to: string) => {
    const s = Signal.connect({ url: to });
    signals.push(s);
    return s;
  };

  beforeAll(async () => {
    // Never answers: a request waits for its ack until the signal closes.
    io.on('connection', (socket) => socket.on('broadcast:join', () => undefined));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of signals) s.close();
    await new Promise<void>((resolve) => {
      void io.close(() => {
        resolve();
      });
    });
  });

  const joinThenClose = async (signal: Signal) => {
    const pending = signal.request('broadcast:join', { broadcastId: 'b_0123456789', redirected: true }).then(
      () => 'answered',
      (err: unknown) => (err instanceof ProtocolError ? `${err.code}: ${err.message}` : String(err)),
    );
    const started = Date.now();
    signal.close();
    return { outcome: await pending, ms: Date.now() - started };
  };

  it('closing ends a request that was sent and waits for its ack', async () => {
    const signal = open(url);
    await expect.poll(() => signal.connected).toBe(true);
    const { outcome, ms } = await joinThenClose(signal);
    expect(outcome).toBe('UNAVAILABLE: connection closed');
    expect(ms).toBeLessThan(1000);
  });

  it('reports a node it cannot reach, and closing ends the request it never sent', async () => {
    const { outcome, ms } = await joinThenClose(open(`http://127.0.0.1:${await freePort()}`));
    expect(outcome).toBe('UNAVAILABLE: connection closed');
    expect(ms).toBeLessThan(1000);
    // A second one, left open until its connection fails.
    const again = open(`http://127.0.0.1:${await freePort()}`);
    const reported = new Promise<Error>((resolve) => again.onConnectError(resolve));
    expect((await reported).message).toMatch(/websocket error/);
  });
});
