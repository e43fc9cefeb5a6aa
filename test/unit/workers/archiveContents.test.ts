import { describe, expect, test } from 'vitest';
import { buildTimeline } from '../../../common/replay/timeline.ts';
import { archiveRootName, chatJson, heartsJson, profileJson, replayFilesOf, viewerData } from '../../../workers/archive/contents.ts';
import { jsonForScript, renderViewer } from '../../../workers/archive/viewer.ts';
import { ArchiveInputSchema, type ArchiveInput } from '../../../common/jobs/archiveInput.ts';

type B = ArchiveInput['broadcasts'][number];
const broadcast = (over: Partial<B> = {}): B =>
  ({
    id: 'b_aaaaaaaaaa',
    title: 't',
    visibility: 'public',
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: null,
    replay: { durationMs: 3000, timeline: buildTimeline([{ offsetMs: 1000, durationMs: 1000 }, { offsetMs: 5000, durationMs: 2000 }]), files: ['replay.mp4'] },
    chat: [],
    hearts: [],
    ...over,
  }) as B;
const msg = (offsetMs: number) => ({ id: `m${offsetMs}`, username: 'u', text: `at ${offsetMs}`, offsetMs, sentAt: 'x' });

describe('archive contents', () => {
  test('atMs follows the replay timeline (before, inside, gap, after) and chat is sorted', () => {
    const b = broadcast({ chat: [msg(9000), msg(1500), msg(0), msg(3000)], hearts: [{ offsetMs: 6000, count: 2 }] });
    expect(chatJson(b).map((m) => [m.offsetMs, m.atMs])).toEqual([
      [0, 0],
      [1500, 500],
      [3000, 1000],
      [9000, 3000],
    ]);
    expect(heartsJson(b)).toEqual([{ offsetMs: 6000, count: 2, atMs: 2000 }]);
  });

  test('no replay: no atMs', () => {
    const b = broadcast({ replay: null, chat: [msg(10)], hearts: [{ offsetMs: 5, count: 1 }] });
    expect(chatJson(b)[0]).not.toHaveProperty('atMs');
    expect(heartsJson(b)[0]).not.toHaveProperty('atMs');
  });

  test('only allowed replay files, in a fixed order', () => {
    const b = broadcast();
    b.replay!.files = ['video.webm', 'poster.jpg', '..', 'replay.mp4', 'index.m3u8'];
    expect(replayFilesOf(b)).toEqual(['replay.mp4', 'poster.jpg']);
  });

  test('the schema refuses path separators in replay file names and bad broadcast ids', () => {
    const input = {
      archiveId: 'a_x',
      createdAt: 'x',
      appVersion: '1',
      profile: { id: 'u', username: 'u', createdAt: 'x' },
      broadcasts: [broadcast()],
      chatElsewhere: [],
    };
    expect(ArchiveInputSchema.safeParse(input).success).toBe(true);
    const bad = structuredClone(input);
    bad.broadcasts[0]!.replay!.files = ['../x.mp4'];
    expect(ArchiveInputSchema.safeParse(bad).success).toBe(false);
    const badId = structuredClone(input);
    (badId.broadcasts[0] as { id: string }).id = 'b_aaaaaaaa/../../etc';
    expect(ArchiveInputSchema.safeParse(badId).success).toBe(false);
  });

  test('a message of yours the broadcaster removed stays in your archive, marked, in chat.json and the viewer', () => {
    const removed = { by: 'broadcaster' as const, at: '2026-01-01T00:01:00.000Z' };
    const b = broadcast({ chat: [{ ...msg(1500), removed }, msg(3000)] });
    expect(chatJson(b).map((m) => [m.offsetMs, m.removed])).toEqual([
      [1500, removed],
      [3000, undefined],
    ]);
    expect(chatJson(b)[1]).not.toHaveProperty('removed');
    const input: ArchiveInput = {
      archiveId: 'a_x',
      createdAt: 'x',
      appVersion: '1',
      profile: { id: 'u', username: 'u', createdAt: 'x' },
      broadcasts: [b],
      chatElsewhere: [{ ...msg(10), broadcastId: 'b_bbbbbbbbbb', broadcastTitle: 'theirs', removed: { by: 'admin', at: 'x' } }, { ...msg(20), broadcastId: 'b_bbbbbbbbbb', broadcastTitle: 'theirs' }],
    };
    expect(ArchiveInputSchema.safeParse(input).success).toBe(true);
    expect(ArchiveInputSchema.safeParse({ ...input, chatElsewhere: [{ ...msg(10), broadcastId: 'b_bbbbbbbbbb', broadcastTitle: 't', removed: { by: 'viewer', at: 'x' } }] }).success).toBe(false);
    const data = viewerData(input, '2026-01-01T00:00:00.000Z', new Map([['b_aaaaaaaaaa', ['replay.mp4'] as const]]));
    expect(data.broadcasts[0]!.chat.map((m) => m.removed)).toEqual(['broadcaster', undefined]);
    expect(data.chatElsewhere.map((m) => m.removed)).toEqual(['admin', undefined]);
    expect(renderViewer(data)).toContain('"removed":"broadcaster"');
  });

  test('top folder name is safe whatever the username', () => {
    expect(archiveRootName('alice')).toBe('spyglass-alice');
    expect(archiveRootName('../../etc')).toBe('spyglass-etc');
    expect(archiveRootName('a.b-c_d')).toBe('spyglass-a_b-c_d');
    expect(archiveRootName('...')).toBe('spyglass-user');
  });

  test('embedded JSON cannot close its script element', () => {
    const evil = { t: '</script><script>alert(1)</script><!-- \u2028' };
    const out = jsonForScript(evil);
    expect(out).not.toMatch(/<|>|\u2028/);
    expect(JSON.parse(out)).toEqual(evil);
    const html = renderViewer(
      viewerData(
        { archiveId: 'a', createdAt: 'x', appVersion: '1', profile: { id: 'u', username: '<u>', createdAt: 'x' }, broadcasts: [broadcast({ title: evil.t })], chatElsewhere: [] },
        '2026-01-01T00:00:00.000Z',
        new Map([['b_aaaaaaaaaa', ['replay.mp4'] as const]]),
      ),
    );
    expect(html.match(/<\/script>/g)?.length).toBe(2);
    expect(html).toContain('Spyglass archive of &lt;u&gt;');
  });
});

describe('archive profile', () => {
  test('profile.json names the avatar in the archive when there is one; older snapshots stay as they were', () => {
    const old = { id: 'u_aaaaaaaaaa', username: 'alice', createdAt: 'x' };
    expect(profileJson(old, false)).toEqual(old);
    const now = { ...old, displayName: 'Alice', bio: 'hi', avatar: 'AAAAAAAAAAAAAAAA' };
    expect(profileJson(now, true)).toEqual({ ...now, avatar: 'profile/avatar.jpg' });
    expect(profileJson({ ...now, avatar: null }, false)).toEqual({ ...now, avatar: null });
    // An avatar version that is not one of ours is refused by the schema (it becomes a storage key).
    const input = { archiveId: 'a_x', createdAt: 'x', appVersion: '1', profile: { ...now, avatar: '../../etc' }, broadcasts: [], chatElsewhere: [] };
    expect(ArchiveInputSchema.safeParse(input).success).toBe(false);
    expect(ArchiveInputSchema.safeParse({ ...input, profile: now, follows: { following: [], followers: [] }, notifications: [] }).success).toBe(true);
  });
});
