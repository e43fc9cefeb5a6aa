import { describe, expect, it } from 'vitest';
import type { ReplayChatMessage, ReplayHearts, ReplaySources } from '../../../common/protocol/replays.ts';
import {
  ReplayCursor,
  chatUpTo,
  countUpTo,
  shouldSwitchSource,
  sourceCandidates,
  sourceRank,
  type CursorStep,
  type PlaybackSupport,
} from '../../../web/src/replayClock.ts';

const user = { id: 'u_0123456789', username: 'alice' } as ReplayChatMessage['user'];
let n = 0;
function msg(atMs: number, text = `m${atMs}`): ReplayChatMessage {
  n += 1;
  return { id: `m_${String(n).padStart(10, '0')}` as ReplayChatMessage['id'], user, text, offsetMs: atMs + 1000, atMs };
}
const ids = (list: readonly ReplayChatMessage[]): string[] => list.map((m) => m.text);

/** Plays a cursor like the page does: what the log would show after each step. */
class FakeLog {
  shown: ReplayChatMessage[] = [];
  heartsCounter = 0;
  floated = 0;
  apply(step: CursorStep): void {
    if (step.reset) {
      this.shown = [...step.add];
      this.heartsCounter = step.heartsTotal;
    } else {
      this.shown.push(...step.add);
      this.heartsCounter += step.hearts;
      this.floated += step.hearts;
    }
  }
}

describe('countUpTo / chatUpTo', () => {
  const chat = [msg(0, 'a'), msg(500, 'b'), msg(500, 'c'), msg(1200, 'd'), msg(5000, 'e')];

  it('includes every message at or before the time, in order', () => {
    expect(ids(chatUpTo(chat, -1))).toEqual([]);
    expect(ids(chatUpTo(chat, 0))).toEqual(['a']);
    expect(ids(chatUpTo(chat, 499))).toEqual(['a']);
    expect(ids(chatUpTo(chat, 500))).toEqual(['a', 'b', 'c']);
    expect(ids(chatUpTo(chat, 4999.9))).toEqual(['a', 'b', 'c', 'd']);
    expect(ids(chatUpTo(chat, 5000))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(ids(chatUpTo(chat, 1e9))).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('agrees with a linear scan on a long list with many ties', () => {
    const long = Array.from({ length: 300 }, (_, i) => msg(Math.floor(i / 3) * 100));
    for (let t = -50; t <= 10_050; t += 37) {
      expect(countUpTo(long, t), `t=${t}`).toBe(long.filter((m) => m.atMs <= t).length);
    }
    expect(chatUpTo([], 1000)).toEqual([]);
  });
});

describe('ReplayCursor', () => {
  it('yields messages in order as playback moves forward in small steps', () => {
    const chat = [msg(100, 'a'), msg(250, 'b'), msg(900, 'c'), msg(1500, 'd')];
    const cursor = new ReplayCursor(chat, []);
    const first = cursor.advanceTo(0);
    expect(first.reset).toBe(true); // the first step builds the log from nothing
    expect(first.add).toEqual([]);
    const added: string[] = [];
    for (let t = 16; t <= 2000; t += 16) {
      const step = cursor.advanceTo(t);
      expect(step.reset).toBe(false);
      added.push(...ids(step.add));
    }
    expect(added).toEqual(['a', 'b', 'c', 'd']);
  });

  it('shows a message within one frame of its time', () => {
    const chat = [msg(5000, 'hello')];
    const cursor = new ReplayCursor(chat, []);
    cursor.advanceTo(4990);
    expect(cursor.advanceTo(4999).add).toEqual([]);
    expect(ids(cursor.advanceTo(5000).add)).toEqual(['hello']);
    expect(cursor.advanceTo(5016).add).toEqual([]);
  });

  it('rebuilds on a seek backwards: nothing after the new time, no duplicates', () => {
    const chat = [msg(100, 'a'), msg(200, 'b'), msg(300, 'c'), msg(400, 'd')];
    const cursor = new ReplayCursor(chat, [{ atMs: 150, count: 2 }, { atMs: 350, count: 5 }]);
    const log = new FakeLog();
    for (const t of [0, 100, 200, 300, 400, 500]) log.apply(cursor.advanceTo(t));
    expect(ids(log.shown)).toEqual(['a', 'b', 'c', 'd']);
    expect(log.heartsCounter).toBe(7);

    const back = cursor.advanceTo(250);
    expect(back.reset).toBe(true);
    expect(ids(back.add)).toEqual(['a', 'b']);
    expect(back.hearts).toBe(0);
    expect(back.heartsTotal).toBe(2);
    log.apply(back);
    // Playing on from there brings c and d back exactly once.
    for (const t of [300, 400, 500]) log.apply(cursor.advanceTo(t));
    expect(ids(log.shown)).toEqual(['a', 'b', 'c', 'd']);
    expect(log.heartsCounter).toBe(7);
  });

  it('rebuilds on a large jump forwards across many messages', () => {
    const chat = Array.from({ length: 50 }, (_, i) => msg(i * 1000, `m${i}`));
    const cursor = new ReplayCursor(chat, [], { maxStepMs: 2000 });
    cursor.advanceTo(0);
    const jump = cursor.advanceTo(30_500);
    expect(jump.reset).toBe(true);
    expect(jump.add).toHaveLength(31);
    expect(jump.add[0]?.text).toBe('m0');
    expect(jump.add.at(-1)?.text).toBe('m30');
    // A forward move within maxStepMs is incremental.
    const step = cursor.advanceTo(32_000);
    expect(step.reset).toBe(false);
    expect(ids(step.add)).toEqual(['m31', 'm32']);
  });

  it('releases messages that share the same atMs together and only once', () => {
    const chat = [msg(1000, 'x'), msg(1000, 'y'), msg(1000, 'z'), msg(1001, 'w')];
    const cursor = new ReplayCursor(chat, []);
    cursor.advanceTo(999);
    expect(ids(cursor.advanceTo(1000).add)).toEqual(['x', 'y', 'z']);
    expect(cursor.advanceTo(1000).add).toEqual([]);
    expect(ids(cursor.advanceTo(1001).add)).toEqual(['w']);
  });

  it('counts the hearts whose time passed between two times', () => {
    const hearts: ReplayHearts[] = [
      { atMs: 500, count: 1 },
      { atMs: 1000, count: 3 },
      { atMs: 1000, count: 2 },
      { atMs: 1800, count: 4 },
    ];
    const cursor = new ReplayCursor([], hearts);
    expect(cursor.advanceTo(0)).toMatchObject({ hearts: 0, heartsTotal: 0 });
    expect(cursor.advanceTo(499)).toMatchObject({ reset: false, hearts: 0, heartsTotal: 0 });
    expect(cursor.advanceTo(500)).toMatchObject({ reset: false, hearts: 1, heartsTotal: 1 });
    expect(cursor.advanceTo(1700)).toMatchObject({ reset: false, hearts: 5, heartsTotal: 6 });
    expect(cursor.advanceTo(1800)).toMatchObject({ reset: false, hearts: 4, heartsTotal: 10 });
    expect(cursor.advanceTo(600)).toMatchObject({ reset: true, hearts: 0, heartsTotal: 1 });
  });

  it('sorts unsorted input (stable for ties) and treats NaN or negative times as 0', () => {
    const chat = [msg(300, 'c'), msg(100, 'a'), msg(300, 'd'), msg(200, 'b')];
    const cursor = new ReplayCursor(chat, []);
    expect(ids(cursor.advanceTo(Number.NaN).add)).toEqual([]);
    expect(cursor.positionMs).toBe(0);
    const log = new FakeLog();
    for (const t of [100, 200, 300]) log.apply(cursor.advanceTo(t));
    expect(ids(log.shown)).toEqual(['a', 'b', 'c', 'd']);
    expect(cursor.advanceTo(-5).reset).toBe(true);
  });

  it('always shows exactly chatUpTo(t), whatever the sequence of times', () => {
    // A seeded generator so a failure is reproducible.
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const chat = Array.from({ length: 200 }, () => Math.floor(random() * 60_000))
      .sort((a, b) => a - b)
      .map((t) => msg(t));
    const hearts = Array.from({ length: 80 }, () => ({ atMs: Math.floor(random() * 60_000), count: 1 + Math.floor(random() * 5) })).sort(
      (a, b) => a.atMs - b.atMs,
    );
    const cursor = new ReplayCursor(chat, hearts);
    const log = new FakeLog();
    let t = 0;
    for (let i = 0; i < 2000; i++) {
      const r = random();
      if (r < 0.8) t += random() * 300; // playing
      else if (r < 0.9) t = random() * 60_000; // seek anywhere
      else t = Math.max(0, t - random() * 1000); // small step back
      log.apply(cursor.advanceTo(t));
      const expected = chatUpTo(chat, t);
      expect(log.shown.length, `step ${i}`).toBe(expected.length);
      expect(log.shown.map((m) => m.id)).toEqual(expected.map((m) => m.id));
      expect(log.heartsCounter).toBe(hearts.filter((x) => x.atMs <= t).reduce((s, x) => s + x.count, 0));
    }
    expect(log.floated).toBeGreaterThan(0);
  });
});

describe('source choice', () => {
  const all: ReplaySources = { hls: '/r/x/index.m3u8', mp4: '/r/x/replay.mp4', videoMp4: null, webm: '/r/x/quick.webm' };
  const everything: PlaybackSupport = { nativeHls: false, hlsJs: true, mp4: true, mp4Opus: true, webm: true };
  const h264: ReplaySources = { hls: '/r/x/index.m3u8', mp4: '/r/x/replay.mp4', videoMp4: '/r/x/video.mp4', webm: null };

  it('prefers native HLS, then hls.js, then the MP4, then the preview (WebM or MP4 with Opus)', () => {
    expect(sourceCandidates(all, { ...everything, nativeHls: true }).map((c) => c.kind)).toEqual(['hls-native', 'mp4', 'webm']);
    expect(sourceCandidates(all, everything).map((c) => c.kind)).toEqual(['hls.js', 'mp4', 'webm']);
    expect(sourceCandidates(all, { ...everything, hlsJs: undefined })[0]?.kind).toBe('hls.js');
    expect(sourceCandidates(all, { ...everything, hlsJs: false }).map((c) => c.kind)).toEqual(['mp4', 'webm']);
    expect(sourceCandidates({ hls: null, mp4: null, videoMp4: null, webm: '/w.webm' }, everything)).toEqual([{ kind: 'webm', url: '/w.webm' }]);
    expect(sourceCandidates(h264, everything).map((c) => c.kind)).toEqual(['hls.js', 'mp4', 'video-mp4']);
    expect(sourceCandidates({ hls: null, mp4: null, videoMp4: '/v.mp4', webm: null }, everything)).toEqual([{ kind: 'video-mp4', url: '/v.mp4' }]);
    expect(sourceCandidates({ hls: null, mp4: null, videoMp4: null, webm: null }, everything)).toEqual([]);
  });

  it('leaves out what the browser cannot play', () => {
    const noH264: PlaybackSupport = { nativeHls: false, hlsJs: false, mp4: false, mp4Opus: false, webm: true };
    expect(sourceCandidates(all, noH264).map((c) => c.kind)).toEqual(['webm']);
    expect(sourceCandidates(h264, noH264)).toEqual([]);
    const noOpusInMp4: PlaybackSupport = { ...everything, hlsJs: false, mp4Opus: false };
    expect(sourceCandidates(h264, noOpusInMp4).map((c) => c.kind)).toEqual(['mp4']);
  });

  it('ranks the MP4 preview like the WebM: below the finished MP4 and HLS', () => {
    const preview = { kind: 'video-mp4' as const, url: '/r/x/video.mp4' };
    expect(shouldSwitchSource(preview, { kind: 'mp4', url: '/r/x/replay.mp4' }, false)).toBe(true);
    expect(shouldSwitchSource(preview, { kind: 'hls.js', url: '/r/x/index.m3u8' }, true)).toBe(false);
    expect(sourceRank('video-mp4')).toBe(sourceRank('webm'));
  });

  it('switches to a better source only before the viewer starts playing', () => {
    const webm = { kind: 'webm' as const, url: all.webm ?? '' };
    const hls = { kind: 'hls.js' as const, url: all.hls ?? '' };
    expect(shouldSwitchSource(null, webm, false)).toBe(true);
    expect(shouldSwitchSource(null, webm, true)).toBe(true);
    expect(shouldSwitchSource(webm, hls, false)).toBe(true);
    expect(shouldSwitchSource(webm, hls, true)).toBe(false);
    expect(shouldSwitchSource(webm, { ...webm }, false)).toBe(false);
    expect(shouldSwitchSource(hls, webm, false)).toBe(false);
    expect(shouldSwitchSource(webm, undefined, false)).toBe(false);
    expect(sourceRank('hls-native')).toBeLessThan(sourceRank('mp4'));
    expect(sourceRank('mp4')).toBeLessThan(sourceRank('webm'));
  });
});
