import type { ChatMessage, ChatSettings } from '../../../common/protocol/events.ts';
import { h, field } from '../dom.ts';
import { LIMITS } from '../../../common/protocol/rules.ts';
import type { Api } from '../api.ts';
import { avatarImage } from './Avatar.ts';
import { ReportForm } from './ReportForm.ts';

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
  /**
   * The broadcaster's tools on each line (the live page): "Remove" on every message, "Block" on
   * those of others (`selfId`: the broadcaster, never offered to block themselves). Each
   * resolves once the server acted; the line goes when `remove(messageId)` is called (the
   * server's `chat:removed`).
   */
  moderate?: {
    selfId: string;
    remove: (message: ChatLine) => Promise<unknown>;
    block: (user: ChatLine['user']) => Promise<unknown>;
  };
  /**
   * "Report" on each line of someone else's (watch and replay pages): opens the report form
   * for that message under the line (`POST /api/reports`, kind `message`). `me()`: the
   * signed-in user's id, or null (signed out: no button).
   */
  report?: { api: Api; me: () => string | null };
  /**
   * Shown in place of the form while `setCanChat(false)` (followers-only chat and the viewer
   * does not follow the broadcaster): e.g. a Follow button.
   */
  gate?: HTMLElement;
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
  readonly #note: HTMLParagraphElement;
  readonly #moderate: ChatPanelOptions['moderate'];
  readonly #report: ChatPanelOptions['report'];
  readonly #gate: HTMLElement | null = null;
  readonly #onError: (err: unknown) => void;
  #signedIn = true;
  #canChat = true;
  #settings: ChatSettings = { slowModeSeconds: 0, followersOnly: false };

  constructor(options: ChatPanelOptions) {
    this.#maxLines = Math.max(1, options.maxLines ?? MAX_LINES);
    this.#log = h('div', { role: 'log', 'aria-label': 'Chat', 'aria-live': 'polite', class: 'chat-log', tabindex: 0 });
    this.#moderate = options.moderate;
    this.#report = options.report;
    const onError = options.onError ?? (() => undefined);
    this.#onError = onError;
    // The chat's settings (slow mode), said where the message is typed.
    this.#note = h('p', { class: 'chat-note', role: 'status', 'aria-label': 'Chat settings', hidden: true });
    const heading = h('h2', { class: 'visually-hidden' }, 'Chat');
    const { send } = options;
    if (!send) {
      this.element = h('section', { class: 'chat read-only', 'aria-label': 'Chat panel' }, heading, this.#log);
      return;
    }
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
    if (options.gate) {
      this.#gate = h('div', { class: 'chat-gate', hidden: true }, options.gate);
    }
    this.element = h('section', { class: 'chat', 'aria-label': 'Chat panel' }, heading, this.#log, this.#note, form, this.#signIn, this.#gate);
  }

  /** Shows the chat's slow mode (one message per `seconds` per person; 0: off). */
  setSlowMode(seconds: number): void {
    this.setSettings({ ...this.#settings, slowModeSeconds: seconds });
  }

  /** Shows the chat's settings (slow mode, followers-only) above the form; hidden when both are off. */
  setSettings(settings: ChatSettings): void {
    this.#settings = { slowModeSeconds: settings.slowModeSeconds, followersOnly: settings.followersOnly };
    const parts = [
      ...(settings.followersOnly ? ['Followers-only chat'] : []),
      ...(settings.slowModeSeconds > 0 ? [`Slow mode: one message every ${settings.slowModeSeconds} s`] : []),
    ];
    this.#note.hidden = parts.length === 0;
    this.#note.textContent = parts.join(' · ');
  }

  /** Whether the viewer may chat now (false: followers-only and they do not follow): the gate instead of the form. */
  setCanChat(canChat: boolean): void {
    this.#canChat = canChat;
    this.#showForm();
  }

  /** Drops a message from the log (it was removed by the broadcaster or an admin); it will not come back. */
  remove(messageId: string): void {
    this.#seen.add(messageId);
    for (const el of this.#log.querySelectorAll<HTMLElement>('.chat-line')) {
      if (el.dataset['id'] === messageId) el.remove();
    }
  }

  /** Signed out: the "Sign in to chat" link instead of the form (when the panel has one). */
  setSignedIn(signedIn: boolean): void {
    this.#signedIn = signedIn;
    this.#showForm();
    // The lines' "Report" buttons are for signed-in users.
    for (const el of this.#log.querySelectorAll<HTMLElement>('.chat-line')) this.#reportTool(el);
  }

  #showForm(): void {
    if (!this.#form) return;
    const gated = this.#signedIn && !this.#canChat && this.#gate !== null;
    this.#form.hidden = (this.#signIn !== null && !this.#signedIn) || gated;
    if (this.#signIn) this.#signIn.hidden = this.#signedIn;
    if (this.#gate) this.#gate.hidden = !gated;
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
      lines.prepend(this.#line(m));
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
    this.#log.append(this.#line(message));
    while (this.#log.childElementCount > this.#maxLines) this.#log.firstElementChild?.remove();
    if (stick) this.#log.scrollTop = this.#log.scrollHeight;
  }

  /** Enables or disables sending (e.g. after the broadcast ended). No-op when read-only. */
  setEnabled(enabled: boolean): void {
    if (this.#input) this.#input.disabled = !enabled;
    if (this.#button) this.#button.disabled = !enabled;
  }

  #line(message: ChatLine): HTMLParagraphElement {
    const el = h('p', { class: 'chat-line', 'data-id': message.id }, avatarImage(message.user, 20), h('strong', {}, message.user.username), `: ${message.text}`);
    el.dataset['author'] = message.user.id;
    this.#reportTool(el);
    const moderate = this.#moderate;
    if (!moderate) return el;
    const act = (button: HTMLButtonElement, action: () => Promise<unknown>) => {
      button.disabled = true;
      action()
        .catch(this.#onError)
        .finally(() => {
          button.disabled = false;
        });
    };
    const tools = h('span', { class: 'chat-tools' });
    const remove = h('button', { type: 'button', class: 'small', 'aria-label': `Remove message from ${message.user.username}` }, 'Remove');
    remove.addEventListener('click', () => act(remove, () => moderate.remove(message)));
    tools.append(' ', remove);
    if (message.user.id !== moderate.selfId) {
      const block = h('button', { type: 'button', class: 'small', 'aria-label': `Block ${message.user.username}` }, 'Block');
      block.addEventListener('click', () => act(block, () => moderate.block(message.user)));
      tools.append(' ', block);
    }
    el.append(tools);
    return el;
  }

  /** Adds (or, signed out and on one's own lines, leaves out) the line's "Report" button. */
  #reportTool(el: HTMLElement): void {
    const report = this.#report;
    if (!report) return;
    const me = report.me();
    const existing = el.querySelector<HTMLElement>(':scope > .chat-report');
    const wanted = me !== null && el.dataset['author'] !== me;
    if (!wanted) {
      existing?.remove();
      return;
    }
    if (existing) return;
    const id = el.dataset['id'] ?? '';
    const author = el.querySelector('strong')?.textContent ?? '';
    const button = h('button', { type: 'button', class: 'small', 'aria-label': `Report message from ${author}` }, 'Report');
    const tool = h('span', { class: 'chat-report' }, ' ', button);
    let form: ReportForm | null = null;
    button.addEventListener('click', () => {
      if (!form) {
        form = new ReportForm({ api: report.api, kind: 'message', id, onError: this.#onError, opener: false });
        tool.append(form.element);
      }
      form.open();
    });
    el.append(tool);
  }
}
