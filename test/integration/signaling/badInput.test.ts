import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../../common/protocol/events.ts';
import { connect, nextEvent, ok, rawRequest, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

describe('bad socket input gets a clear error and harms nobody else', () => {
  let server: TestServer;
  let attacker: ClientSocket;
  let broadcaster: ClientSocket;
  let bystander: ClientSocket;
  let broadcastId: string;

  beforeAll(async () => {
    server = await startTestServer();
    const a = await signUp(server.url, 'broadcaster');
    broadcaster = await connect(server.url, a.token);
    broadcastId = (await ok(broadcaster, 'broadcast:start', { title: 'steady', visibility: 'public', invitees: [] })).broadcast.id;
    const b = await signUp(server.url, 'bystander');
    bystander = await connect(server.url, b.token);
    await ok(bystander, 'broadcast:join', { broadcastId: broadcastId });
    const m = await signUp(server.url, 'attacker');
    attacker = await connect(server.url, m.token);
  });
  afterAll(async () => {
    for (const s of [attacker, broadcaster, bystander]) s?.disconnect();
    await server?.stop();
  });

  it.each([
    ['a string payload', 'broadcast:join', 'nope'],
    ['null payload', 'chat:send', null],
    ['a wrong id shape', 'broadcast:join', { broadcastId: '../../etc/passwd' }],
    ['extra keys', 'broadcast:join', { broadcastId: 'b_abcdefgh12345', admin: true }],
    ['a number for text', 'chat:send', { broadcastId: 'b_abcdefgh12345', text: 42 }],
    ['an empty title', 'broadcast:start', { title: '   ', visibility: 'public', invitees: [] }],
    ['a bad visibility', 'broadcast:start', { title: 't', visibility: 'secret', invitees: [] }],
    ['an over-long chat', 'chat:send', { broadcastId: 'b_abcdefgh12345', text: 'x'.repeat(LIMITS.chatMax + 1) }],
    ['garbage rtpParameters', 'produce', { broadcastId: 'b_abcdefgh12345', transportId: '00000000-0000-4000-8000-000000000000', kind: 'video', rtpParameters: { codecs: 'all' } }],
    ['garbage dtlsParameters', 'transport:connect', { broadcastId: 'b_abcdefgh12345', transportId: '00000000-0000-4000-8000-000000000000', dtlsParameters: { fingerprints: [{ algorithm: 'md5', value: 'zz' }] } }],
  ])('%s → VALIDATION_FAILED', async (_label, event, payload) => {
    const res = await rawRequest(attacker, event, payload);
    expect(res).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED', message: expect.any(String) } });
  });

  it('an oversized payload → PAYLOAD_TOO_LARGE', async () => {
    const res = await rawRequest(attacker, 'chat:send', { broadcastId, text: 'x'.repeat(LIMITS.maxMessageBytes + 10) });
    expect(res).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('an unknown event with an ack → UNKNOWN_EVENT', async () => {
    expect(await rawRequest(attacker, 'room:destroy', { all: true })).toMatchObject({ ok: false, error: { code: 'UNKNOWN_EVENT' } });
  });

  it('an unknown event or a request without an ack is dropped with a reason', async () => {
    const dropped = nextEvent(attacker, 'error:dropped');
    const emitRaw = attacker.emit as unknown as (this: unknown, e: string, ...args: unknown[]) => void;
    emitRaw.call(attacker, 'mystery');
    expect(await dropped).toMatchObject({ code: 'UNKNOWN_EVENT' });
    const dropped2 = nextEvent(attacker, 'error:dropped');
    emitRaw.call(attacker, 'chat:send', { broadcastId, text: 'no ack' });
    expect(await dropped2).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('a message over the transport limit closes only that connection', async () => {
    const victim = await connect(server.url);
    const closed = new Promise<string>((resolve) => victim.once('disconnect', resolve));
    (victim.emit as unknown as (this: unknown, e: string, p: unknown) => void).call(victim, 'chat:send', { text: 'x'.repeat(1_100_000) });
    expect(await closed).toBeTruthy();
    // Everyone else is still served.
    const heard = nextEvent(bystander, 'chat:message');
    await ok(broadcaster, 'chat:send', { broadcastId: broadcastId, text: 'still on air' });
    expect((await heard).text).toBe('still on air');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
