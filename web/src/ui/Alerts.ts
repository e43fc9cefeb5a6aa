import { ProtocolError } from '../../../common/protocol/errors.ts';
import { formatError } from '../format.ts';
import { h } from '../dom.ts';

/**
 * The page's single role=alert region. It stays in the DOM (empty) so that screen readers
 * announce text put into it; `show` replaces the message, `clear` empties it.
 */
export class Alerts {
  readonly element: HTMLDivElement;
  readonly #region: HTMLDivElement;

  constructor() {
    this.#region = h('div', { role: 'alert', class: 'alert-text' });
    const dismiss = h('button', { type: 'button', class: 'alert-dismiss', onclick: () => this.clear() }, 'Dismiss');
    this.element = h('div', { class: 'alert', hidden: true }, this.#region, dismiss);
  }

  /** Shows a server error as "message (CODE)", or any other error's message. */
  show(err: unknown): void {
    this.#region.textContent = describeError(err);
    this.element.hidden = false;
  }

  clear(): void {
    this.#region.textContent = '';
    this.element.hidden = true;
  }
}

/** Human text for an error: server errors keep their stable code. */
export function describeError(err: unknown): string {
  if (err instanceof ProtocolError) return formatError(err.code, err.message);
  if (err instanceof DOMException || err instanceof Error) {
    switch (err.name) {
      case 'NotAllowedError':
        return 'Camera or microphone access was denied. Allow it in the browser and try again.';
      case 'NotFoundError':
        return 'No camera or microphone was found.';
      case 'NotReadableError':
        return 'The camera or microphone is in use by another application.';
      default:
        return err.message || err.name;
    }
  }
  return String(err);
}
