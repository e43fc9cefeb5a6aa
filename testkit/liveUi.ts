import type { Page } from 'playwright-core';
import type { ReplayDetail } from '../common/protocol/replays.ts';

/** Signs up through the web page (the session cookie stays in the page's context). */
export async function signUpInPage(page: Page, username: string): Promise<void> {
  await page.goto('/signup');
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  await page.getByLabel('Password').fill('a good long password');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 10_000 });
}

/**
 * Goes live from /live with a public broadcast; resolves with its id once the page shows the
 * watch link. `videoCodec` 'vp8' opens `/live?codec=vp8` (VP8 where the browser could send
 * H.264); by default the page picks (H.264 in Chromium).
 */
export async function goLiveInPage(page: Page, title: string, timeoutMs = 20_000, videoCodec?: 'vp8' | 'h264'): Promise<string> {
  await page.goto(videoCodec ? `/live?codec=${videoCodec}` : '/live');
  await page.getByRole('textbox', { name: 'Title' }).fill(title);
  await page.getByRole('radio', { name: 'Public' }).check();
  await page.getByRole('button', { name: 'Go live' }).click();
  const watchLink = page.getByRole('link', { name: 'Watch link' });
  await watchLink.waitFor({ timeout: timeoutMs });
  const href = (await watchLink.getAttribute('href')) ?? '';
  const id = /\/watch\/(b_[A-Za-z0-9_-]+)$/.exec(href)?.[1];
  if (!id) throw new Error(`unexpected watch link ${href}`);
  return id;
}

/** Resolves once the page's peer connection sends video (bytes going out). */
export async function waitUntilSending(page: Page): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const sent = await page.evaluate(async () => {
      let bytes = 0;
      for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
        (await pc.getStats()).forEach((s: Record<string, unknown>) => {
          if (s.type === 'outbound-rtp' && s.kind === 'video') bytes += Number(s.bytesSent ?? 0);
        });
      }
      return bytes;
    });
    if (sent > 20_000) return;
    await page.waitForTimeout(100);
  }
  throw new Error('the broadcaster never sent video');
}

/** Fetches a replay's detail with the page's cookies (as that user). */
export async function replayDetail(page: Page, id: string): Promise<{ status: number; body: ReplayDetail | undefined }> {
  const res = await page.request.get(`/api/replays/${id}`);
  return { status: res.status(), body: res.ok() ? ((await res.json()) as ReplayDetail) : undefined };
}

/** Polls until the replay is ready or failed (or the time runs out); returns the last detail. */
export async function waitForReplay(page: Page, id: string, timeoutMs = 60_000): Promise<ReplayDetail> {
  const deadline = Date.now() + timeoutMs;
  let last: ReplayDetail | undefined;
  while (Date.now() < deadline) {
    last = (await replayDetail(page, id)).body;
    if (last && (last.state === 'ready' || last.state === 'failed')) return last;
    await page.waitForTimeout(250);
  }
  throw new Error(`replay ${id} not finished within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}
