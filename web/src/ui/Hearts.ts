import { addHearts, heartsToDraw } from '../format.ts';
import { h } from '../dom.ts';

/**
 * The hearts counter (aria-label "Hearts", text = total received) and the layer where
 * hearts float up. The counter is a status with aria-live="off": announcing every burst
 * would drown a screen reader.
 */
export class Hearts {
  readonly counter: HTMLElement;
  /** Put this over the video; it ignores pointer events. */
  readonly layer: HTMLDivElement;
  #total = 0;

  constructor() {
    this.counter = h(
      'p',
      { class: 'hearts-counter' },
      h('span', { 'aria-hidden': 'true', class: 'heart-icon' }, '♥ '),
      h('span', { role: 'status', 'aria-live': 'off', 'aria-label': 'Hearts', class: 'hearts-total' }, '0'),
    );
    this.layer = h('div', { class: 'hearts-layer', 'aria-hidden': 'true' });
  }

  get total(): number {
    return this.#total;
  }

  /** Back to zero (a new broadcast). */
  reset(): void {
    this.#total = 0;
    this.#setText();
  }

  /** Sets the total without animating (a replay after a seek: the hearts up to the new time). */
  set(total: number): void {
    this.#total = Number.isFinite(total) && total > 0 ? Math.floor(total) : 0;
    this.#setText();
  }

  /** Removes the hearts still floating (a replay seeks away from them). */
  clearFloating(): void {
    this.layer.replaceChildren();
  }

  /** A `hearts` event from the server: add to the total and float some up. */
  received(count: number): void {
    this.#total = addHearts(this.#total, count);
    this.#setText();
    this.float(heartsToDraw(count));
  }

  #setText(): void {
    const total = this.counter.querySelector('.hearts-total');
    if (total) total.textContent = String(this.#total);
  }

  /** Floats `n` hearts up (for instant feedback on a local click too). */
  float(n: number): void {
    for (let i = 0; i < n; i++) {
      const heart = h('span', { class: 'floating-heart' }, '♥');
      heart.style.setProperty('--x', `${Math.round(Math.random() * 60 - 30)}px`);
      heart.style.setProperty('--hue', String(330 + Math.round(Math.random() * 40)));
      heart.style.animationDelay = `${i * 90}ms`;
      heart.addEventListener('animationend', () => heart.remove(), { once: true });
      // Fallback when animations are off (reduced motion, background tab).
      setTimeout(() => heart.remove(), 4000 + i * 90);
      this.layer.append(heart);
    }
  }
}
