import type { ChatMessage } from '../../../common/protocol/events.ts';
import { h, field } from '../dom.ts';
import { LIMITS } from '../../../common/protocol/rules.ts';

/** How many messages the log keeps in the DOM. */
const MAX_LINES = 200;

/** Options for `ChatPanel`. */
export interface ChatPanelOptions {
  /** Sends a message; resolves with the stored message (shown at once) or rejects. */
  send: (text: string) => Promise<ChatMessage>;
  /** Shows a send error. */
  onError: (err: unknown) => void;
}

/**
 * The chat: a role=log region named "Chat" with one "username: text" line per message,
 * and a form with the "Chat message" textbox and a "Send" button. Messages are
 * de-duplicated by id (the sender gets its message both in the ack and as an event).
 */
export class ChatPanel {
  readonly element: HTMLElement;
  readonly #log: HTMLDivElement;
  readonly #input: HTMLInputElement;
  readonly #button: HTMLButtonElement;
  readonly #seen = new Set<string>();

  constructor(options: ChatPanelOptions) {
    this.#log = h('div', { role: 'log', 'aria-label': 'Chat', 'aria-live': 'polite', class: 'chat-log', tabindex: 0 });
    const { wrapper, input } = field('Chat message', {
      type: 'text',
      name: 'text',
      maxlength: LIMITS.chatMax,
      autocomplete: 'off',
      enterkeyhint: 'send',
    });
    this.#input = input;
    this.#button = h('button', { type: 'submit' }, 'Send');
    const form = h('form', { class: 'chat-form' }, wrapper, this.#button);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = this.#input.value.trim();
      if (text === '' || this.#button.disabled) return;
      this.#button.disabled = true;
      options
        .send(text)
        .then((message) => {
          this.add(message);
          this.#input.value = '';
        })
        .catch(options.onError)
        .finally(() => {
          this.#button.disabled = false;
          this.#input.focus();
        });
    });
    this.element = h('section', { class: 'chat', 'aria-label': 'Chat panel' }, h('h2', { class: 'visually-hidden' }, 'Chat'), this.#log, form);
  }

  /** Replaces the log with `messages` (e.g. the recent chat from `broadcast:join`). */
  reset(messages: readonly ChatMessage[]): void {
    this.#log.replaceChildren();
    this.#seen.clear();
    for (const m of messages) this.add(m);
  }

  /** Appends one message unless it is already shown. */
  add(message: ChatMessage): void {
    if (this.#seen.has(message.id)) return;
    this.#seen.add(message.id);
    const stick = this.#log.scrollTop + this.#log.clientHeight >= this.#log.scrollHeight - 8;
    this.#log.append(h('p', { class: 'chat-line' }, h('strong', {}, message.user.username), `: ${message.text}`));
    while (this.#log.childElementCount > MAX_LINES) this.#log.firstElementChild?.remove();
    if (stick) this.#log.scrollTop = this.#log.scrollHeight;
  }

  /** Enables or disables sending (e.g. after the broadcast ended). */
  setEnabled(enabled: boolean): void {
    this.#input.disabled = !enabled;
    this.#button.disabled = !enabled;
  }
}
