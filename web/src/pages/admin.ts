import { ProtocolError } from '../../../common/protocol/errors.ts';
import { describePhase, type SunsetSchedule } from '../../../common/protocol/sunset.ts';
import { field, h, replace, uid } from '../dom.ts';
import type { PageMount } from '../page.ts';
import { adminSunset, formatWhen, SUNSET_CHANGED_EVENT, type AdminSunsetView } from '../sunset.ts';
import { mountNotFound } from './notFound.ts';
import { moderationSections } from './adminReports.ts';

/** `YYYY-MM-DDTHH:MM` in the browser's time zone, for a `datetime-local` input. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A `datetime-local` value (browser time zone) as ISO-8601 UTC; '' stays '' so the server names the missing field. */
function fromLocalInput(value: string): string {
  if (value === '') return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString();
}

const DATE_FIELDS = [
  { key: 'announceAt', label: 'Announce on', hint: 'The banner appears on every page and sign-ups close.' },
  { key: 'readOnlyAt', label: 'Read-only from', hint: 'No new broadcasts or chat; replays still play.' },
  { key: 'exportOnlyAt', label: 'Export-only from', hint: 'Only replays, downloads and archives.' },
  { key: 'offAt', label: 'Off from', hint: 'A farewell page; nothing else is served.' },
] as const;

/** One audit entry as a line: what, by whom, about whom (details are free-form JSON). */
function describeAudit(e: { actorId: string; action: string; details: Record<string, unknown> }): string {
  const by = typeof e.details['username'] === 'string' ? e.details['username'] : e.actorId;
  const target = e.details['user'];
  const about = typeof target === 'object' && target !== null && 'username' in target && typeof target.username === 'string' ? ` (${target.username})` : '';
  const reason = typeof e.details['reason'] === 'string' ? `: ${e.details['reason']}` : '';
  return `${e.action}${about} by ${by}${reason}`;
}

/**
 * `/admin`: the reports queue and suspended accounts (adminReports.ts), the sunset schedule,
 * and the audit log of every admin action. Anyone else gets the not-found page, as the API
 * answers 404 to them.
 */
export const mountAdmin: PageMount = (root, ctx) => {
  ctx.setTitle('Admin');
  let disposed = false;
  const currentId = uid('sunset-current');
  const formId = uid('sunset-form');
  const auditId = uid('sunset-audit');

  const current = h('div', { class: 'notice', 'aria-live': 'polite' }, 'Loading…');
  const inputs = DATE_FIELDS.map((f) => ({ ...f, ...field(f.label, { type: 'datetime-local', name: f.key, required: true }, f.hint) }));
  const messageId = uid('f');
  const message = h('textarea', { id: messageId, name: 'message', rows: 3, maxlength: 1000 });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Schedule the sunset');
  const cancel = h('button', { type: 'button' }, 'Cancel the sunset');
  const form = h(
    'form',
    { class: 'live-form', 'aria-labelledby': formId },
    h('h2', { id: formId }, 'Schedule'),
    h('p', { class: 'hint' }, `Times are in your time zone (${Intl.DateTimeFormat().resolvedOptions().timeZone}); they must be in the future and in this order.`),
    ...inputs.map((i) => i.wrapper),
    h('div', { class: 'field' }, h('label', { for: messageId }, 'Message (shown in the banner and on the farewell page)'), message),
    save,
  );
  const audit = h('ul', {});

  const show = (view: AdminSunsetView): void => {
    const s = view.schedule;
    if (!s) {
      replace(current, h('p', {}, 'No sunset is scheduled. The service runs normally.'));
      cancel.hidden = true;
    } else {
      replace(
        current,
        h('p', {}, h('strong', {}, `Phase now: ${view.phase}`), ` — ${describePhase(view.phase)}.`),
        h(
          'ul',
          {},
          ...DATE_FIELDS.map((f) => h('li', {}, `${f.label}: `, h('time', { datetime: s[f.key] }, formatWhen(s[f.key])))),
        ),
        s.message ? h('p', {}, `Message: ${s.message}`) : null,
        h('p', { class: 'hint' }, `Scheduled by ${s.createdBy} on ${formatWhen(s.createdAt)}.`),
      );
      cancel.hidden = false;
      for (const i of inputs) i.input.value = toLocalInput(s[i.key]);
      message.value = s.message;
    }
    void refreshAudit();
  };

  // Every admin action (sunset, reports, suspensions), newest first.
  const refreshAudit = async (): Promise<void> => {
    try {
      const entries = await ctx.api.adminAudit();
      if (disposed) return;
      replace(
        audit,
        ...(entries.length === 0
          ? [h('li', {}, 'No admin actions yet.')]
          : entries.map((e) => h('li', {}, h('time', { datetime: e.at }, formatWhen(e.at)), ` — ${describeAudit(e)}`))),
      );
    } catch (err) {
      if (!disposed) ctx.alerts.show(err);
    }
  };
  const moderation = moderationSections({
    api: ctx.api,
    onError: (err) => {
      if (!disposed) ctx.alerts.show(err);
    },
    onChange: () => void refreshAudit(),
  });

  const act = async (fn: () => Promise<AdminSunsetView>, button: HTMLButtonElement): Promise<void> => {
    button.disabled = true;
    ctx.alerts.clear();
    try {
      const view = await fn();
      if (disposed) return;
      show(view);
      window.dispatchEvent(new Event(SUNSET_CHANGED_EVENT));
    } catch (err) {
      if (!disposed) ctx.alerts.show(err);
    } finally {
      button.disabled = false;
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    /* eslint-disable @typescript-eslint/no-non-null-assertion -- DATE_FIELDS has these four, in this order */
    const schedule: SunsetSchedule = {
      announceAt: fromLocalInput(inputs[0]!.input.value),
      readOnlyAt: fromLocalInput(inputs[1]!.input.value),
      exportOnlyAt: fromLocalInput(inputs[2]!.input.value),
      offAt: fromLocalInput(inputs[3]!.input.value),
      message: message.value,
    };
    /* eslint-enable @typescript-eslint/no-non-null-assertion */
    void act(() => adminSunset('PUT', schedule), save);
  });
  cancel.addEventListener('click', () => {
    if (!window.confirm('Cancel the sunset? The service goes back to running normally.')) return;
    void act(() => adminSunset('DELETE'), cancel);
  });

  void ctx.sessionReady
    .then(() => adminSunset('GET'))
    .then(
      (view) => {
        if (disposed) return;
        root.append(
          h('h1', { tabindex: -1 }, 'Admin'),
          moderation.element,
          h('section', { 'aria-labelledby': currentId }, h('h2', { id: currentId }, 'Current schedule'), current, cancel),
          form,
          h('section', { 'aria-labelledby': auditId }, h('h2', { id: auditId }, 'Recent admin actions'), audit),
        );
        show(view);
        moderation.refresh().catch((err: unknown) => {
          if (!disposed) ctx.alerts.show(err);
        });
      },
      (err: unknown) => {
        if (disposed) return;
        if (err instanceof ProtocolError && err.code === 'NOT_FOUND') {
          mountNotFound(root, ctx);
          return;
        }
        root.append(h('h1', { tabindex: -1 }, 'Admin'));
        ctx.alerts.show(err);
      },
    );

  return () => {
    disposed = true;
  };
};
