import { formatViewers } from '../format.ts';
import { h } from '../dom.ts';

/** The role=status region named "Viewer count" with text "N watching". */
export class ViewerCount {
  readonly element: HTMLParagraphElement;

  constructor(initial = 0) {
    this.element = h('p', { role: 'status', 'aria-live': 'polite', 'aria-label': 'Viewer count', class: 'viewer-count' }, formatViewers(initial));
  }

  set(count: number): void {
    const text = formatViewers(count);
    if (this.element.textContent !== text) this.element.textContent = text;
  }
}
