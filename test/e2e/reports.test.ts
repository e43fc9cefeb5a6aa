import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BroadcastIdSchema } from '../../common/protocol/ids.ts';
import { goLiveInPage, signUpInPage } from '../../testkit/liveUi.ts';
import { connect, grantAdmin, request, type ClientSocket, type TestServer } from '../../testkit/server.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';

/**
 * Moderation in Chromium, driven by role and name (docs/moderation.md): a viewer reports a live
 * broadcast; an admin handles the report on /admin by suspending the broadcaster, with a
 * reason; the broadcast ends at once for the broadcaster and the viewer; the broadcaster sees
 * why on /live and /account and cannot go live again (the page and the server refuse).
 */
describe('reports and suspension in Chromium', () => {
  let stage: E2eStage;
  let server: TestServer;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    stage = await startE2e({ server: { recording: { enabled: false } } });
    server = stage.server;
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await stage?.close();
  });
  const newPage = (): Promise<Page> => stage.newPage();

  it('a user reports a broadcast; an admin suspends the broadcaster from /admin; the broadcast ends and they cannot go live again, and see why', async () => {
    const broadcaster = await newPage();
    await signUpInPage(broadcaster, 'streamer');
    const id = await goLiveInPage(broadcaster, 'Night market');

    // A viewer reports it from the watch page.
    const viewer = await newPage();
    await signUpInPage(viewer, 'watcher');
    await viewer.goto(`/watch/${id}`);
    await viewer.getByRole('heading', { name: 'Night market', level: 1 }).waitFor();
    await viewer.getByRole('button', { name: 'Report this broadcast' }).click();
    const form = viewer.getByRole('form', { name: 'Report this broadcast' });
    await form.getByRole('combobox', { name: 'Reason' }).selectOption('harassment');
    await form.getByRole('textbox', { name: 'Details (optional)' }).fill('insults the people in the chat');
    await form.getByRole('button', { name: 'Send report' }).click();
    await viewer.getByText('Thank you: your report was sent to the admins.').waitFor();
    const stored = await server.stores.reports.list('open');
    expect(stored.map((r) => [r.kind, r.targetId, r.reason, r.details])).toEqual([['broadcast', id, 'harassment', 'insults the people in the chat']]);

    // The broadcaster sees no report button on their own broadcast.
    expect(await broadcaster.getByRole('button', { name: 'Report this broadcast' }).count()).toBe(0);

    // The admin handles it on /admin: the report in context, then "Suspend streamer" with a reason.
    const admin = await newPage();
    await signUpInPage(admin, 'moderator');
    await grantAdmin(server, 'moderator');
    await admin.goto('/admin');
    await admin.getByRole('heading', { name: 'Reports', level: 2 }).waitFor();
    const card = admin.getByRole('article', { name: /Report about .Night market./ });
    await card.waitFor();
    await card.getByText('Harassment or bullying').waitFor();
    await card.getByText('insults the people in the chat').waitFor();
    await card.getByText('LIVE now').waitFor();
    await card.getByRole('link', { name: 'Night market' }).waitFor();
    await card.getByRole('textbox', { name: 'Reason shown to streamer' }).fill('insulting viewers, again');
    await card.getByRole('button', { name: 'Suspend streamer' }).click();
    await admin.getByText('No open reports.').waitFor();
    await admin.getByRole('button', { name: 'Unsuspend streamer' }).waitFor();
    await admin.getByText(/user\.suspend \(streamer\) by moderator: insulting viewers, again/).waitFor();

    // The broadcast ended at once, for the broadcaster and the viewer.
    await broadcaster.getByRole('heading', { name: 'Broadcast ended' }).waitFor({ timeout: 10_000 });
    await viewer.getByText('An admin ended this broadcast and suspended the broadcaster’s account.').waitFor({ timeout: 10_000 });
    expect((await server.stores.broadcasts.get(BroadcastIdSchema.parse(id)))?.endReason).toBe('account-suspended');

    // The broadcaster sees why on /live, and cannot go live again.
    const notice = broadcaster.getByRole('status', { name: 'Account suspended' });
    await notice.getByText('Reason: insulting viewers, again').waitFor();
    await broadcaster.goto('/live');
    await broadcaster.getByRole('status', { name: 'Account suspended' }).getByText('Reason: insulting viewers, again').waitFor();
    expect(await broadcaster.getByRole('button', { name: 'Go live' }).isDisabled()).toBe(true);
    // Nor through the server: the session's socket is refused with the reason.
    const token = (await broadcaster.context().cookies()).find((c) => c.name === 'spyglass_session')?.value;
    const socket = await connect(server.url, token);
    sockets.push(socket);
    expect(await request(socket, 'broadcast:start', { title: 'Sneaky', visibility: 'public' })).toEqual({
      ok: false,
      error: { code: 'SUSPENDED', message: 'your account is suspended, so you cannot go live: insulting viewers, again' },
    });

    // /account says why too, and the archive is still offered.
    await broadcaster.goto('/account');
    await broadcaster.getByRole('status', { name: 'Account suspended' }).getByText('Reason: insulting viewers, again').waitFor();
    expect(await broadcaster.getByRole('button', { name: 'Download your data' }).isEnabled()).toBe(true);
  }, 120_000);
});
