/**
 * H.264 profiles as SDP names them in `profile-level-id` (RFC 6184 §8.1): the profile_idc byte
 * and the constraint flags (profile-iop) decide the profile; the level does not matter for
 * matching. The patterns are the ones WebRTC implementations use (libwebrtc's and mediasoup's
 * `h264-profile-level-id`), so the server matches an offered H.264 format exactly as mediasoup
 * will when the producer is created.
 */
type Profile = 'constrained-baseline' | 'baseline' | 'main' | 'constrained-high' | 'high' | 'predictive-high-444';

/** [profile_idc, profile-iop pattern (bit 7 first; x: either), profile]. */
const PATTERNS: ReadonlyArray<readonly [number, string, Profile]> = [
  [0x42, 'x1xx0000', 'constrained-baseline'],
  [0x4d, '1xxx0000', 'constrained-baseline'],
  [0x58, '11xx0000', 'constrained-baseline'],
  [0x42, 'x0xx0000', 'baseline'],
  [0x58, '10xx0000', 'baseline'],
  [0x4d, '0x0x0000', 'main'],
  [0x64, '00000000', 'high'],
  [0x64, '00001100', 'constrained-high'],
  [0xf4, '00000000', 'predictive-high-444'],
];

/** Constrained Baseline level 3.1: what an absent profile-level-id means to WebRTC implementations. */
const DEFAULT_PROFILE_LEVEL_ID = '42e01f';

function fits(iop: number, pattern: string): boolean {
  for (let bit = 0; bit < 8; bit++) {
    const want = pattern[bit];
    const has = (iop >> (7 - bit)) & 1;
    if (want !== 'x' && Number(want) !== has) return false;
  }
  return true;
}

/** The profile of a `profile-level-id` (6 hex digits), or undefined for one that names none. */
export function h264Profile(profileLevelId: string | undefined): Profile | undefined {
  const id = profileLevelId ?? DEFAULT_PROFILE_LEVEL_ID;
  if (!/^[0-9A-Fa-f]{6}$/.test(id)) return undefined;
  const idc = parseInt(id.slice(0, 2), 16);
  const iop = parseInt(id.slice(2, 4), 16);
  return PATTERNS.find(([i, pattern]) => i === idc && fits(iop, pattern))?.[2];
}

/** Whether two `profile-level-id`s name the same profile (a missing one is Constrained Baseline 3.1). */
export function sameH264Profile(a: string | undefined, b: string | undefined): boolean {
  const pa = h264Profile(a);
  return pa !== undefined && pa === h264Profile(b);
}
