import { describe, expect, it } from 'vitest';
import { allowedIn, type SunsetPhase } from '../../../common/protocol/sunset.ts';
import { defaultAvatarSvg } from '../../../signaling/profiles/defaultAvatar.ts';

describe('the generated avatar', () => {
  it('is the initial on a colour from the username (any case), with nothing active in it', () => {
    const svg = defaultAvatarSvg('alice');
    expect(svg).toBe(defaultAvatarSvg('ALICE'));
    expect(svg).not.toBe(defaultAvatarSvg('bob'));
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>.*>A<\/text><\/svg>$/);
    expect(svg).toMatch(/fill="hsl\(\d{1,3} 55% 42%\)"/);
    expect(svg).not.toMatch(/script|href|on\w+=/i);
    // Names that start with punctuation use their first letter or digit.
    expect(defaultAvatarSvg('_.9lives')).toContain('>9</text>');
    expect(defaultAvatarSvg('___')).toContain('>?</text>');
  });
});

describe('profiles in the sunset phases', () => {
  it('editing and following go on until export-only', () => {
    const phases: SunsetPhase[] = ['none', 'announced', 'read-only', 'export-only', 'off'];
    expect(phases.map((p) => allowedIn(p, 'profile'))).toEqual([true, true, true, false, false]);
  });
});
