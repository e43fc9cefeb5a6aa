import type { AdminReport, SuspendedUser } from '../../../common/protocol/reports.ts';
import { REPORT_LIMITS, REPORT_REASONS } from '../../../common/protocol/rules.ts';
import type { Api } from '../api.ts';
import { h, replace, uid } from '../dom.ts';
import { replayPath, watchPath } from '../router.ts';
import { formatWhen } from '../sunset.ts';

type Action = { action: 'dismiss' | 'remove' | 'end' } | { action: 'suspend'; reason: string };

/** What the admin page gives the moderation sections. */
export interface ModerationSectionsOptions {
  api: Api;
  /** Shows an error in the page's alert region. */
  onError: (err: unknown) => void;
  /** After every action (the audit list refreshes). */
  onChange: () => void;
}

const KIND_TEXT = { broadcast: 'Broadcast', replay: 'Replay', message: 'Chat message' } as const;

/**
 * The admin page's moderation (docs/moderation.md, docs/web.md): the reports queue, each
 * report with its item in context and the actions on it (dismiss, remove, end the broadcast,
 * suspend its owner with a reason), and the suspended accounts with "Unsuspend".
 */
export function moderationSections(o: ModerationSectionsOptions): { element: HTMLElement; refresh: () => Promise<void> } {
  const reportsId = uid('reports');
  const suspendedId = uid('suspended');
  let showing: 'open' | 'resolved' = 'open';
  const count = h('p', { class: 'hint', role: 'status', 'aria-label': 'Open reports' });
  const list = h('div', { class: 'report-list' });
  const toggle = h('button', { type: 'button', class: 'small' }, 'Show resolved reports');
  const suspendedList = h('ul', { class: 'suspended-list' });

  const act = async (report: AdminReport, action: Action, button: HTMLButtonElement): Promise<void> => {
    button.disabled = true;
    try {
      await o.api.adminReportAction(report.id, action);
      await refresh();
      o.onChange();
    } catch (err) {
      o.onError(err);
      button.disabled = false;
    }
  };

  const reportCard = (r: AdminReport): HTMLElement => {
    const c = r.context;
    const b = c.broadcast;
    const owner = r.targetUser.username ?? r.targetUser.id;
    const what = b ? `“${b.title}”` : r.targetId;
    const item: HTMLElement[] = [];
    if (b) {
      const live = b.status !== 'ended';
      item.push(
        h(
          'p',
          {},
          `${KIND_TEXT[r.kind]} `,
          h('a', { href: live ? watchPath(b.id) : replayPath(b.id) }, b.title),
          ` by ${b.owner.username} · ${b.visibility} · `,
          h('strong', {}, live ? 'LIVE now' : `ended ${b.endedAt ? formatWhen(b.endedAt) : ''}`),
          b.replayState ? ` · replay ${b.replayState}` : '',
        ),
      );
    } else {
      item.push(h('p', {}, `${KIND_TEXT[r.kind]} ${r.targetId}: no longer exists.`));
    }
    if (r.kind === 'message') {
      item.push(
        c.around.length > 0
          ? h(
              'ol',
              { class: 'chat-context', 'aria-label': 'The message in context' },
              ...c.around.map((m) => h('li', { class: m.reported ? 'reported' : '' }, h('strong', {}, m.author.username), `: ${m.text}`, m.reported ? ' ← reported' : '')),
            )
          : h('p', {}, 'The message no longer exists.'),
      );
    }
    const buttons: HTMLElement[] = [];
    if (r.state === 'open') {
      const dismiss = h('button', { type: 'button' }, 'Dismiss');
      dismiss.addEventListener('click', () => void act(r, { action: 'dismiss' }, dismiss));
      buttons.push(dismiss);
    }
    const remove = h('button', { type: 'button', class: 'danger' }, r.kind === 'message' ? 'Remove the message' : r.kind === 'replay' || b?.status === 'ended' ? 'Delete the replay' : 'Remove (end it)');
    remove.addEventListener('click', () => {
      if (window.confirm(`${remove.textContent}: ${what}?`)) void act(r, { action: 'remove' }, remove);
    });
    buttons.push(remove);
    if (b && b.status !== 'ended') {
      const end = h('button', { type: 'button', class: 'danger' }, 'End the broadcast');
      end.addEventListener('click', () => void act(r, { action: 'end' }, end));
      buttons.push(end);
    }
    const reasonId = uid('suspend-reason');
    const reason = h('input', { id: reasonId, type: 'text', name: 'reason', maxlength: REPORT_LIMITS.suspensionReasonMax, required: true, autocomplete: 'off' });
    const suspend = h('button', { type: 'submit', class: 'danger' }, `Suspend ${owner}`);
    const suspendForm = h(
      'form',
      { class: 'suspend-form', 'aria-label': `Suspend ${owner}` },
      h('label', { for: reasonId }, `Reason shown to ${owner}`),
      ' ',
      reason,
      ' ',
      suspend,
    );
    suspendForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void act(r, { action: 'suspend', reason: reason.value }, suspend);
    });
    return h(
      'article',
      { class: 'report-card', 'aria-label': `Report about ${what}` },
      h(
        'p',
        {},
        h('strong', {}, REPORT_REASONS[r.reason]),
        ` — reported by ${r.reporter.username} on ${formatWhen(r.createdAt)}`,
        r.openReports > 1 ? ` (${r.openReports} open reports of this ${r.kind})` : '',
      ),
      r.details ? h('blockquote', {}, r.details) : null,
      ...item,
      c.ownerSuspended ? h('p', { class: 'hint' }, `${owner} is suspended.`) : null,
      r.state !== 'open' ? h('p', { class: 'hint' }, `Resolved: ${r.resolution ?? r.state}${r.resolvedAt ? ` on ${formatWhen(r.resolvedAt)}` : ''}.`) : null,
      h('div', { class: 'report-actions' }, ...buttons),
      c.ownerSuspended ? null : suspendForm,
    );
  };

  const suspendedItem = (s: SuspendedUser): HTMLElement => {
    const lift = h('button', { type: 'button', class: 'small' }, `Unsuspend ${s.user.username}`);
    lift.addEventListener('click', () => {
      lift.disabled = true;
      o.api.adminUnsuspend(s.user.id).then(
        async () => {
          await refresh();
          o.onChange();
        },
        (err: unknown) => {
          lift.disabled = false;
          o.onError(err);
        },
      );
    });
    return h('li', {}, h('strong', {}, s.user.username), ` — ${s.reason} (since ${formatWhen(s.since)}) `, lift);
  };

  async function refresh(): Promise<void> {
    const [{ reports, open }, suspended] = await Promise.all([o.api.adminReports(showing), o.api.adminSuspensions()]);
    count.textContent = open === 1 ? '1 open report' : `${open} open reports`;
    toggle.textContent = showing === 'open' ? 'Show resolved reports' : 'Show open reports';
    replace(list, ...(reports.length === 0 ? [h('p', {}, showing === 'open' ? 'No open reports.' : 'No resolved reports.')] : reports.map(reportCard)));
    replace(suspendedList, ...(suspended.length === 0 ? [h('li', {}, 'No account is suspended.')] : suspended.map(suspendedItem)));
  }

  toggle.addEventListener('click', () => {
    showing = showing === 'open' ? 'resolved' : 'open';
    refresh().catch(o.onError);
  });

  const element = h(
    'div',
    { class: 'moderation' },
    h('section', { 'aria-labelledby': reportsId }, h('h2', { id: reportsId }, 'Reports'), count, toggle, list),
    h('section', { 'aria-labelledby': suspendedId }, h('h2', { id: suspendedId }, 'Suspended accounts'), suspendedList),
  );
  return { element, refresh };
}
