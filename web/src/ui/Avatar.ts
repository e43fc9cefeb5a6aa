import { h } from '../dom.ts';

/**
 * A small round avatar beside a name in a list (chat lines, the viewer list, follow lists, home
 * cards): the person's current avatar through `GET /api/avatars/:userId`, which redirects to
 * the uploaded image or the generated one. Decorative (the name is beside it): empty alt text.
 * An account that no longer exists (a "deleted user" line) has none: the image hides itself.
 */
export function avatarImage(user: { id: string; avatarUrl?: string }, size = 24): HTMLImageElement {
  const img = h('img', {
    class: 'avatar small',
    src: user.avatarUrl ?? `/api/avatars/${encodeURIComponent(user.id)}`,
    alt: '',
    width: size,
    height: size,
    loading: 'lazy',
    decoding: 'async',
  });
  img.addEventListener('error', () => (img.hidden = true), { once: true });
  return img;
}
