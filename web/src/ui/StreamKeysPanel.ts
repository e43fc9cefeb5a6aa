import type { Visibility } from '../../../common/protocol/events.ts';
import { LIMITS, STREAM_KEY_LIMITS } from '../../../common/protocol/rules.ts';
import type { StreamKeyView } from '../../../common/protocol/streamKeys.ts';
import type { Api } from '../api.ts';
import { field, h, replace, uid } from '../dom.ts';

/**
 * The stream keys section of `/account` (docs/ingest.md): create a key (its secret shown once,
 * with a copy button and the WHIP and RTMP URLs to paste into OBS), the list, "Revoke".
 */
export class StreamKeysPanel {
  readonly element: HTMLElement;
  readonly #api: Api;
  readonly #onError: (err: unknown) => void;
  readonly #list = h('ul', { class: 'stream-key-list', 'aria-label': 'Your stream keys' });
  readonly #status = h('p', { role: 'status', 'aria-label': 'Stream key status' });
  readonly #reveal = h('div', { class: 'notice stream-key-secret', role: 'region', 'aria-label': 'New stream key', hidden: true });
  #rtmpPort: number | null = null;
  #closed = false;

  constructor(api: Api, onError: (err: unknown) => void) {
    this.#api = api;
    this.#onError = onError;
    const name = field('Key name', { type: 'text', maxlength: STREAM_KEY_LIMITS.nameMax, required: true, autocomplete: 'off', placeholder: 'OBS at home' });
    const title = field('Broadcast title', { type: 'text', maxlength: LIMITS.titleMax, required: true, autocomplete: 'off' }, 'The title of the broadcasts this key starts.');
    const visId = uid('key-vis');
    const visibility = h('select', { id: visId, name: 'visibility' }, h('option', { value: 'public' }, 'Public'), h('option', { value: 'private' }, 'Private (only you)'));
    const create = h('button', { type: 'submit' }, 'Create stream key');
    const form = h(
      'form',
      { 'aria-label': 'New stream key' },
      name.wrapper,
      title.wrapper,
      h('div', { class: 'field' }, h('label', { for: visId }, 'Who can watch'), visibility),
      create,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      create.disabled = true;
      this.#api
        .createStreamKey({ name: name.input.value, title: title.input.value, visibility: visibility.value as Visibility })
        .then(
          ({ key, secret }) => {
            name.input.value = '';
            title.input.value = '';
            this.#showSecret(key, secret);
            return this.load();
          },
          (err: unknown) => this.#onError(err),
        )
        .finally(() => {
          create.disabled = false;
        });
    });
    this.element = h(
      'div',
      { class: 'stream-keys' },
      h(
        'p',
        {},
        'Go live from OBS or another encoder: create a key, paste it into the encoder, and start streaming there. ' +
          'Your broadcast shows on your go-live page with its chat, viewers and an End button.',
      ),
      form,
      this.#reveal,
      this.#list,
      this.#status,
    );
  }

  /** Loads the list (and the RTMP port the URLs need). */
  async load(): Promise<void> {
    try {
      const { keys, rtmpPort } = await this.#api.streamKeys();
      if (this.#closed) return;
      this.#rtmpPort = rtmpPort;
      this.#render(keys);
    } catch (err) {
      if (!this.#closed) this.#onError(err);
    }
  }

  close(): void {
    this.#closed = true;
  }

  #showSecret(key: StreamKeyView, secret: string): void {
    const secretCode = h('code', { class: 'secret', 'aria-label': 'Stream key secret' }, secret);
    const copy = h('button', { type: 'button', class: 'small' }, 'Copy key');
    copy.addEventListener('click', () => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- clipboard is undefined outside a secure context, whatever the DOM types say
      navigator.clipboard?.writeText(secret).then(
        () => {
          copy.textContent = 'Copied';
          setTimeout(() => (copy.textContent = 'Copy key'), 1500);
        },
        () => this.#onError(new Error('Could not copy the key; select it and copy it by hand.')),
      );
    });
    const whip = `${location.origin}/whip`;
    const rtmp = this.#rtmpPort === null ? null : `rtmp://${location.hostname}:${this.#rtmpPort}/live/${secret}`;
    replace(
      this.#reveal,
      h('h3', {}, `Your new key “${key.name}”`),
      h('p', {}, 'Copy it now: it is shown only once. Anyone with it can go live as you; revoke it if it leaks.'),
      h('p', {}, secretCode, ' ', copy),
      h('p', {}, 'WHIP (OBS 30+: Service “WHIP”): server ', h('code', { 'aria-label': 'WHIP URL' }, whip), ', bearer token: the key.'),
      rtmp === null
        ? h('p', {}, 'RTMP is not enabled on this server.')
        : h('p', {}, 'RTMP: ', h('code', { 'aria-label': 'RTMP URL' }, rtmp)),
    );
    this.#reveal.hidden = false;
  }

  #render(keys: StreamKeyView[]): void {
    if (keys.length === 0) {
      replace(this.#list, h('li', { class: 'empty' }, 'You have no stream keys.'));
      return;
    }
    replace(
      this.#list,
      ...keys.map((key) => {
        const revoke = h('button', { type: 'button', class: 'small danger', 'aria-label': `Revoke ${key.name}` }, 'Revoke');
        revoke.addEventListener('click', () => {
          revoke.disabled = true;
          this.#api.revokeStreamKey(key.id).then(
            () => {
              this.#status.textContent = `The key “${key.name}” is revoked: it can no longer start a broadcast.`;
              return this.load();
            },
            (err: unknown) => {
              revoke.disabled = false;
              this.#onError(err);
            },
          );
        });
        const used = key.lastUsedAt ? `last used ${new Date(key.lastUsedAt).toLocaleString()}` : 'never used';
        return h(
          'li',
          {},
          h('strong', {}, key.name),
          ` — “${key.title}”, ${key.visibility} `,
          h('small', { class: 'meta' }, `created ${new Date(key.createdAt).toLocaleDateString()}, ${used}`),
          ' ',
          revoke,
        );
      }),
    );
  }
}
