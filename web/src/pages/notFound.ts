import { h } from '../dom.ts';
import type { PageMount } from '../page.ts';

/** Any other path. */
export const mountNotFound: PageMount = (root, ctx) => {
  ctx.setTitle('Not found');
  root.append(
    h('h1', { tabindex: -1 }, 'Page not found'),
    h('p', {}, 'This page does not exist or the broadcast link is wrong. ', h('a', { href: '/' }, 'See who is live now'), '.'),
  );
  return () => undefined;
};
