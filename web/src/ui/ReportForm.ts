import type { ReportKind, ReportReason } from '../../../common/protocol/reports.ts';
import { REPORT_LIMITS, REPORT_REASONS } from '../../../common/protocol/rules.ts';
import type { Api } from '../api.ts';
import { h, uid } from '../dom.ts';

const NOUN: Record<ReportKind, string> = { broadcast: 'broadcast', replay: 'replay', message: 'message' };

/**
 * "Report": a button that opens a small form (a category from the fixed set, optional
 * details) and sends it to the admins (`POST /api/reports`). Reporting the same item again is
 * the same report, so a second send only confirms it. Shown to signed-in users who do not own
 * the item; the server decides anyway.
 */
export class ReportForm {
  readonly element: HTMLDivElement;
  readonly #api: Api;
  readonly #kind: ReportKind;
  readonly #id: string;
  readonly #onError: (err: unknown) => void;
  readonly #button: HTMLButtonElement;
  readonly #form: HTMLFormElement;
  readonly #reason: HTMLSelectElement;
  readonly #details: HTMLTextAreaElement;
  readonly #send: HTMLButtonElement;
  readonly #status: HTMLParagraphElement;

  /** `opener: false`: no "Report this …" button of its own; whoever shows it calls `open()` (a chat line's "Report"). */
  constructor(o: { api: Api; kind: ReportKind; id: string; onError: (err: unknown) => void; opener?: boolean }) {
    this.#api = o.api;
    this.#kind = o.kind;
    this.#id = o.id;
    this.#onError = o.onError;
    const noun = NOUN[o.kind];
    const reasonId = uid('report-reason');
    const detailsId = uid('report-details');
    this.#button = h('button', { type: 'button', class: 'small', 'aria-expanded': 'false' }, `Report this ${noun}`);
    this.#reason = h(
      'select',
      { id: reasonId, name: 'reason', required: true },
      h('option', { value: '' }, 'Choose a reason…'),
      ...Object.entries(REPORT_REASONS).map(([value, label]) => h('option', { value }, label)),
    );
    this.#details = h('textarea', { id: detailsId, name: 'details', rows: 2, maxlength: REPORT_LIMITS.detailsMax });
    this.#send = h('button', { type: 'submit', class: 'danger' }, 'Send report');
    const cancel = h('button', { type: 'button', onclick: () => this.#close() }, 'Cancel');
    this.#form = h(
      'form',
      { class: 'report-form', 'aria-label': `Report this ${noun}`, hidden: true },
      h('div', { class: 'field' }, h('label', { for: reasonId }, 'Reason'), this.#reason),
      h('div', { class: 'field' }, h('label', { for: detailsId }, 'Details (optional)'), this.#details),
      this.#send,
      ' ',
      cancel,
    );
    this.#status = h('p', { role: 'status', class: 'hint' });
    this.#button.hidden = o.opener === false;
    this.element = h('div', { class: 'report' }, this.#button, this.#form, this.#status);
    this.#button.addEventListener('click', () => this.#open());
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#submit();
    });
  }

  /** Shows or hides the whole control (e.g. only for signed-in users who do not own the item). */
  setVisible(visible: boolean): void {
    this.element.hidden = !visible;
  }

  /** Opens the form (the reason first). */
  open(): void {
    this.#open();
  }

  #open(): void {
    this.#form.hidden = false;
    this.#button.setAttribute('aria-expanded', 'true');
    this.#status.textContent = '';
    this.#reason.focus();
  }

  #close(): void {
    this.#form.hidden = true;
    this.#button.setAttribute('aria-expanded', 'false');
    if (!this.#button.hidden) this.#button.focus();
  }

  async #submit(): Promise<void> {
    const reason = this.#reason.value;
    if (!Object.hasOwn(REPORT_REASONS, reason)) {
      this.#status.textContent = 'Choose a reason first.';
      this.#reason.focus();
      return;
    }
    this.#send.disabled = true;
    try {
      await this.#api.report(this.#kind, this.#id, reason as ReportReason, this.#details.value);
      this.#form.hidden = true;
      this.#button.setAttribute('aria-expanded', 'false');
      this.#status.textContent = 'Thank you: your report was sent to the admins.';
    } catch (err) {
      this.#onError(err);
    } finally {
      this.#send.disabled = false;
    }
  }
}
