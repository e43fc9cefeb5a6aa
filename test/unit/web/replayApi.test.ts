import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../common/protocol/errors.ts';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import type { ReplayDetail, ReplaySummary } from '../../../common/protocol/replays.ts';
import { Api, isReplaySummary, readReplayDetail } from '../../../web/src/api.ts';

const ID = 'b_0123456789' as BroadcastId;

const summary: ReplaySummary = {
  id: ID,
  title: 'Morning run',
  owner: { id: 'u_0123456789' as ReplaySummary['owner']['id'], username: 'alice' },
  visibility: 'public',
  state: 'ready',
  startedAt: '2025-01-01T10:00:00.000Z',
  endedAt: '2025-01-01T10:05:00.000Z',
  durationMs: 300_000,
  posterUrl: '/api/replays/b_0123456789/poster.jpg',
};

const detail: ReplayDetail = {
  ...summary,
  reason: null,
  sources: { hls: '/api/replays/b_0123456789/hls/index.m3u8', mp4: '/api/replays/b_0123456789/replay.mp4', videoMp4: null, webm: null },
  download: { url: '/api/replays/b_0123456789/download', fileName: 'morning-run.mp4', sizeBytes: 12_345_678, sha256: 'ab'.repeat(32) },
  chat: [
    { id: 'm_0123456789' as ReplayDetail['chat'][number]['id'], user: summary.owner, text: 'hi', offsetMs: 5200, atMs: 5000 },
  ],
  hearts: [{ atMs: 6000, count: 3 }],
};

interface Call {
  url: string;
  init: RequestInit | undefined;
}

/** An Api over a fake fetch that answers `status` with `body` and records the calls. */
function fakeApi(status: number, body: unknown): { api: Api; calls: Call[] } {
  const calls: Call[] = [];
  const api = new Api(async (input, init) => {
    calls.push({ url: input instanceof Request ? input.url : String(input), init });
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  });
  return { api, calls };
}

describe('Api replays', () => {
  it('lists public and own replays, dropping malformed entries', async () => {
    const { api, calls } = fakeApi(200, { replays: [summary, { ...summary, state: 'paused' }, { nope: true }] });
    expect(await api.listReplays('public')).toEqual([summary]);
    await api.listReplays('mine');
    expect(calls.map((c) => c.url)).toEqual(['/api/replays?scope=public', '/api/replays?scope=mine']);
    expect(calls[0]?.init?.credentials).toBe('same-origin');
  });

  it('rejects a list without the replays array', async () => {
    const { api } = fakeApi(200, { items: [] });
    await expect(api.listReplays('public')).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('reads one replay', async () => {
    const { api, calls } = fakeApi(200, detail);
    expect(await api.getReplay(ID)).toEqual(detail);
    expect(calls[0]?.url).toBe('/api/replays/b_0123456789');
  });

  it('turns a 404 into ProtocolError NOT_FOUND', async () => {
    const { api } = fakeApi(404, { error: { code: 'NOT_FOUND', message: 'replay not found' } });
    const err: unknown = await api.getReplay(ID).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: 'NOT_FOUND', message: 'replay not found' });
  });
});

describe('replay guards', () => {
  it('accept the contract shapes', () => {
    expect(isReplaySummary(summary)).toBe(true);
    expect(isReplaySummary({ ...summary, durationMs: null, posterUrl: null, endedAt: null, state: 'recording' })).toBe(true);
    expect(readReplayDetail(detail)).toEqual(detail);
    expect(readReplayDetail({ replay: detail })).toEqual(detail);
    expect(readReplayDetail({ ...detail, state: 'processing', download: null, sources: { hls: null, mp4: null, videoMp4: null, webm: '/q.webm' } })?.download).toBeNull();
    expect(readReplayDetail({ ...detail, state: 'processing', download: null, sources: { hls: null, mp4: null, videoMp4: '/v.mp4', webm: null } })?.sources.videoMp4).toBe('/v.mp4');
  });

  it('reject broken envelopes', () => {
    expect(isReplaySummary({ ...summary, id: 'x' })).toBe(false);
    expect(isReplaySummary({ ...summary, durationMs: '300' })).toBe(false);
    expect(readReplayDetail({ ...detail, sources: null })).toBeNull();
    expect(readReplayDetail({ ...detail, sources: { hls: 1, mp4: null, webm: null } })).toBeNull();
    expect(readReplayDetail({ ...detail, download: { url: '/d' } })).toBeNull();
    expect(readReplayDetail({ ...detail, chat: 'none' })).toBeNull();
    expect(readReplayDetail({ ...detail, reason: 5 })).toBeNull();
    expect(readReplayDetail(null)).toBeNull();
  });

  it('drop chat messages and heart bursts that do not fit', () => {
    const d = readReplayDetail({ ...detail, chat: [...detail.chat, { id: 'm_0123456789', text: 'no user', atMs: 1 }], hearts: [...detail.hearts, { atMs: 'x', count: 1 }] });
    expect(d?.chat).toEqual(detail.chat);
    expect(d?.hearts).toEqual(detail.hearts);
  });
});
