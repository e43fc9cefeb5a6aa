import { describe, expect, it } from 'vitest';
import { LayerGovernor, type GovernorTimers } from '../../../sfu/LayerGovernor.ts';
import { viewerRtpCapabilities } from '../../../sfu/viewerCapabilities.ts';

/** A hand-driven clock: timers fire only when `advance` passes their time. */
function fakeTimers(): GovernorTimers & { advance(ms: number): void; pending(): number } {
  let now = 0;
  let next = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = next++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(h) {
      timers.delete(h as number);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = until;
    },
    pending: () => timers.size,
  };
}

/** Steps down at the first low score (`downAfterMs` 0), to test the ladder; the wait has its own test. */
const policy = { downBelow: 7, downAfterMs: 0, downEveryMs: 2_000, holdMs: 10_000, maxHoldMs: 40_000 };

describe('LayerGovernor: the spatial layer of a simulcast viewer from its score', () => {
  it('starts at the top, steps down one layer per bad score (spaced), and climbs back one step per hold once the score is good', () => {
    const t = fakeTimers();
    const applied: number[] = [];
    const g = new LayerGovernor(3, (l) => applied.push(l), policy, t);
    expect(g.layer).toBe(2);
    g.onScore(10);
    g.onScore(9);
    expect(applied).toEqual([]);
    g.onScore(5);
    expect(g.layer).toBe(1);
    // The reports right after a step still describe the layer above.
    g.onScore(3);
    expect(g.layer).toBe(1);
    t.advance(2_000);
    g.onScore(2);
    expect(g.layer).toBe(0);
    expect(applied).toEqual([1, 0]);
    // mediasoup reports changes only: a hold that ends on a bad score waits another hold.
    t.advance(10_000);
    expect(g.layer).toBe(0);
    t.advance(5_000);
    g.onScore(8);
    t.advance(4_999);
    expect(g.layer).toBe(0);
    t.advance(1);
    expect(g.layer).toBe(1);
    t.advance(10_000);
    expect(g.layer).toBe(2);
    // At the top: nothing is left to wait for.
    expect(t.pending()).toBe(0);
    expect(applied).toEqual([1, 0, 1, 2]);
  });

  it('a step up that brings loss within its hold doubles the hold, up to the maximum; loss after a whole hold resets it', () => {
    const t = fakeTimers();
    const g = new LayerGovernor(2, () => undefined, policy, t);
    g.onScore(4);
    expect(g.layer).toBe(0);
    for (const hold of [20_000, 40_000, 40_000]) {
      g.onScore(9);
      t.advance(g.holdMs);
      expect(g.layer).toBe(1);
      t.advance(1_000);
      g.onScore(6);
      expect(g.layer).toBe(0);
      expect(g.holdMs).toBe(hold);
    }
    // Up again, and this time the link holds past the hold: the next loss starts from the base hold.
    g.onScore(9);
    t.advance(g.holdMs);
    expect(g.layer).toBe(1);
    t.advance(60_000);
    g.onScore(6);
    expect(g.layer).toBe(0);
    expect(g.holdMs).toBe(10_000);
  });

  it('loss at the lowest layer restarts the wait; close stops every timer and ignores later scores', () => {
    const t = fakeTimers();
    const applied: number[] = [];
    const g = new LayerGovernor(2, (l) => applied.push(l), policy, t);
    g.onScore(1);
    t.advance(8_000);
    g.onScore(2);
    g.onScore(9);
    t.advance(8_000);
    expect(g.layer).toBe(0);
    t.advance(2_000);
    expect(g.layer).toBe(1);
    g.onScore(1);
    g.close();
    g.close();
    expect(t.pending()).toBe(0);
    g.onScore(1);
    t.advance(100_000);
    expect(applied).toEqual([0, 1, 0]);
  });
});

describe('LayerGovernor: a low score must last downAfterMs', () => {
  const waiting = { ...policy, downAfterMs: 2_500 };

  it('lets a low score that recovers within the wait pass (an isolated, repaired loss), and steps down when it lasts', () => {
    const t = fakeTimers();
    const applied: number[] = [];
    const g = new LayerGovernor(3, (l) => applied.push(l), waiting, t);
    // One bad report, then the next one good again: nothing changes, nothing is left pending.
    g.onScore(2);
    t.advance(1_000);
    g.onScore(8);
    t.advance(10_000);
    expect(applied).toEqual([]);
    expect(t.pending()).toBe(0);
    // A low score that lasts (mediasoup reports changes only: still low) steps down once the wait is over.
    g.onScore(5);
    t.advance(1_000);
    g.onScore(4);
    t.advance(1_499);
    expect(g.layer).toBe(2);
    t.advance(1);
    expect(g.layer).toBe(1);
    // Still low: the next step waits for a new low report and its own wait.
    t.advance(5_000);
    expect(g.layer).toBe(1);
    g.onScore(3);
    t.advance(2_500);
    expect(g.layer).toBe(0);
    expect(applied).toEqual([1, 0]);
  });

  it('close cancels a pending wait', () => {
    const t = fakeTimers();
    const applied: number[] = [];
    const g = new LayerGovernor(2, (l) => applied.push(l), waiting, t);
    g.onScore(1);
    expect(t.pending()).toBe(1);
    g.close();
    expect(t.pending()).toBe(0);
    t.advance(10_000);
    expect(applied).toEqual([]);
  });
});

describe('viewerRtpCapabilities', () => {
  it('drops send-side bandwidth estimation and keeps the rest', () => {
    const caps = viewerRtpCapabilities({
      codecs: [
        {
          kind: 'video',
          mimeType: 'video/VP8',
          clockRate: 90000,
          preferredPayloadType: 96,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }, { type: 'transport-cc' }],
        },
      ],
      headerExtensions: [
        { kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1 },
        { kind: 'video', uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', preferredId: 4 },
        { kind: 'video', uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', preferredId: 5 },
        { kind: 'video', uri: 'urn:3gpp:video-orientation', preferredId: 11 },
      ],
    });
    expect(caps.codecs?.[0]?.rtcpFeedback).toEqual([{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }]);
    expect(caps.headerExtensions?.map((h) => h.uri)).toEqual(['urn:ietf:params:rtp-hdrext:sdes:mid', 'urn:3gpp:video-orientation']);
  });
});
