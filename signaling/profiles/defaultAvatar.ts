import { createHash } from 'node:crypto';

/**
 * The avatar of someone who uploaded none: their initial on a colour taken from the hash of
 * their username, as an SVG (no script, no external reference: safe as an image). Usernames
 * are `A-Z a-z 0-9 _ . -` only, so the initial needs no escaping beyond what is done here.
 */
export function defaultAvatarSvg(username: string): string {
  const hash = createHash('sha256').update(username.toLowerCase()).digest();
  const hue = ((hash[0] ?? 0) * 256 + (hash[1] ?? 0)) % 360;
  const initial = (/[A-Za-z0-9]/.exec(username)?.[0] ?? '?').toUpperCase();
  return (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="256" height="256" role="img">' +
    `<rect width="64" height="64" fill="hsl(${hue} 55% 42%)"/>` +
    `<text x="32" y="42" font-family="system-ui, sans-serif" font-size="30" font-weight="600" text-anchor="middle" fill="#fff">${initial}</text>` +
    '</svg>'
  );
}
