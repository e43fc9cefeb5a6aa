import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantAdmin, signUp, startTestServer, type TestServer } from '../../../testkit/server.ts';

/** The job dashboard (bull-board) is for admins only; everyone else sees a plain 404. */
describe('admin job dashboard', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('shows the record, finalize, archive and archive-sweep queues to an admin', async () => {
    const root = await signUp(server.url, 'root');
    await grantAdmin(server, 'root');
    const page = await fetch(`${server.url}/admin/queues`, { headers: { authorization: `Bearer ${root.token}` } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const api = await fetch(`${server.url}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${root.token}` } });
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: Array<{ name: string }> };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['archive', 'archive-sweep', 'finalize', 'record']);
  });

  it('answers 404 to anonymous and to signed-in non-admins', async () => {
    const mallory = await signUp(server.url, 'mallory');
    for (const headers of [{}, { authorization: `Bearer ${mallory.token}` }]) {
      for (const url of ['/admin/queues', '/admin/queues/api/queues']) {
        const res = await fetch(`${server.url}${url}`, { headers });
        expect(res.status).toBe(404);
        expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'not found' } });
      }
    }
  });
});
