import type { ChatMessage } from '../../../common/protocol/events.ts';
import { h, field } from '../dom.ts';
import { LIMITS } from '../../../common/protocol/rules.ts';

/** How many messages the log keeps in the DOM. */
const MAX_LINES = 200;

/** What a chat line needs: live messages and replay messages both fit. */
export type ChatLine = Pick<ChatMessage, 'id' | 'user' | 'text'>;

/** Options for `ChatPanel`. */
export interface ChatPanelOptions {
  /**
   * Sends a message; resolves with the stored message (shown at once) or rejects.
   * Without it the panel is read-only (a replay): the log only, no form.
   */
  send?: (text: string) => Promise<ChatMessage>;
  /** Shows a send error. */
  onError?: (err: unknown) => void;
  /** How many lines the log keeps (oldest dropped first). Default 200. */
  maxLines?: number;
  /**
   * Where "Sign in to chat" leads (with `send`): while `setSignedIn(false)`, that link is shown
   * instead of the form, so an anonymous viewer never sees a chat box that cannot send.
   */
  signInHref?: string;
}

/**
 * The chat: a role=log region named "Chat" with one "username: text" line per message,
 * and (with `send`) a form with the "Chat message" textbox and a "Send" button. Messages
 * are de-duplicated by id (the sender gets its message both in the ack and as an event).
 */
export class ChatPanel {
  readonly element: HTMLElement;
  readonly #log: HTMLDivElement;
  readonly #input: HTMLInputElement | null = null;
  readonly #button: HTMLButtonElement | null = null;
  readonly #seen = new Set<string>();
  readonly #maxLines: number;
  readonly #form: HTMLFormElement | null = null;
  readonly #signIn: HTMLParagraphElement | null = null;

  constructor(options: ChatPanelOptions) {
    this.#maxLines = Math.max(1, options.maxLines ?? MAX_LINES);
    this.#log = h('div', { role: 'log', 'aria-label': 'Chat', 'aria-live': 'polite', class: 'chat-log', tabindex: 0 });
    const heading = h('h2', { class: 'visually-hidden' }, 'Chat');
    const { send } = options;
    if (!send) {
      this.element = h('section', { class: 'chat read-only', 'aria-label': 'Chat panel' }, heading, this.#log);
      return;
    }
    const onError = options.onError ?? (() => undefined);
    const { wrapper, input } = field('Chat message', {
      type: 'text',
      name: 'text',
      maxlength: LIMITS.chatMax,
      autocomplete: 'off',
      enterkeyhint: 'send',
    });
    const button = h('button', { type: 'submit' }, 'Send');
    this.#input = input;
    this.#button = button;
    const form = h('form', { class: 'chat-form' }, wrapper, button);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (text === '' || button.disabled) return;
      button.disabled = true;
      send(text)
        .then((message) => {
          this.add(message);
          input.value = '';
        })
        .catch(onError)
        .finally(() => {
          button.disabled = false;
          input.focus();
        });
    });
    this.#form = form;
    if (options.signInHref !== undefined) {
      // Hidden until the page knows nobody is signed in (the default is the form).
      this.#signIn = h('p', { class: 'chat-signin', hidden: true }, h('a', { href: options.signInHref }, 'Sign in to chat'));
    }
    this.element = h('section', { class: 'chat', 'aria-label': 'Chat panel' }, heading, this.#log, form, this.#signIn);
  }

  /** Signed out: the "Sign in to chat" link instead of the form (when the panel has one). */
  setSignedIn(signedIn: boolean): void {
    if (!this.#form || !this.#signIn) return;
    this.#form.hidden = !signedIn;
    this.#signIn.hidden = signedIn;
  }

  /** Replaces the log with `messages` (e.g. the recent chat from `broadcast:join`), scrolled to the end. */
  reset(messages: readonly ChatLine[]): void {
    this.#log.replaceChildren();
    this.#seen.clear();
    // Only the last `maxLines` can stay: build just those, in one DOM update.
    const lines = document.createDocumentFragment();
    let count = 0;
    for (let i = messages.length - 1; i >= 0 && count < this.#maxLines; i--) {
      const m = messages[i] as ChatLine;
      if (this.#seen.has(m.id)) continue;
      this.#seen.add(m.id);
      lines.prepend(line(m));
      count += 1;
    }
    this.#log.append(lines);
    this.#log.scrollTop = this.#log.scrollHeight;
  }

  /** Appends one message unless it is already shown. */
  add(message: ChatLine): void {
    if (this.#seen.has(message.id)) return;
    this.#seen.add(message.id);
    const stick = this.#log.scrollTop + this.#log.clientHeight >= this.#log.scrollHeight - 8;
    this.#log.append(line(message));
    while (this.#log.childElementCount > this.#maxLines) this.#log.firstElementChild?.remove();
    if (stick) this.#log.scrollTop = this.#log.scrollHeight;
  }

  /** Enables or disables sending (e.g. after the broadcast ended). No-op when read-only. */
  setEnabled(enabled: boolean): void {
    if (this.#input) this.#input.disabled = !enabled;
    if (this.#button) this.#button.disabled = !enabled;
  }
}

function line(message: ChatLine): HTMLParagraphElement {
  return h('p', { class: 'chat-line' }, h('strong', {}, message.user.username), `: ${message.text}`);
}
