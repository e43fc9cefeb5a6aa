import type { UserSummary } from '../../../common/protocol/events.ts';
import { field, h } from '../dom.ts';
import { PASSWORD_RULES, USERNAME_RULES } from '../../../common/protocol/rules.ts';
import type { PageContext, PageMount } from '../page.ts';
import { safeNext } from '../router.ts';

type Mode = 'signup' | 'signin';

const TEXT: Record<Mode, { title: string; button: string }> = {
  signup: { title: 'Sign up', button: 'Sign up' },
  signin: { title: 'Sign in', button: 'Sign in' },
};

function mountAuth(mode: Mode): PageMount {
  return (root, ctx) => {
    const text = TEXT[mode];
    ctx.setTitle(text.title);
    const username = field(
      'Username',
      { type: 'text', name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', maxlength: 64 },
      mode === 'signup' ? `${USERNAME_RULES.min}–${USERNAME_RULES.max} letters, digits, "_", "." or "-".` : undefined,
    );
    const password = field(
      'Password',
      { type: 'password', name: 'password', autocomplete: mode === 'signup' ? 'new-password' : 'current-password', maxlength: 256 },
      // The server refuses common and easily guessed passwords and says why (shown in the alert).
      mode === 'signup' ? `At least ${PASSWORD_RULES.min} characters; not a common or easily guessed password (a few uncommon words work well).` : undefined,
    );
    const submit = h('button', { type: 'submit', class: 'primary' }, text.button);
    const form = h('form', { class: 'auth-form', 'aria-labelledby': 'auth-title' }, username.wrapper, password.wrapper, submit);
    root.append(h('h1', { id: 'auth-title', tabindex: -1 }, text.title), form);

    let disposed = false;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (submit.disabled) return;
      submit.disabled = true;
      ctx.alerts.clear();
      void authenticate(ctx, mode, username.input.value.trim(), password.input.value)
        .then((user) => {
          if (disposed) return;
          ctx.session.set(user);
          ctx.navigate(safeNext(location.search), { replace: true });
        })
        .catch((err: unknown) => {
          if (disposed) return;
          ctx.alerts.show(err);
          submit.disabled = false;
          password.input.select();
        });
    });
    username.input.focus();
    return () => {
      disposed = true;
    };
  };
}

function authenticate(ctx: PageContext, mode: Mode, username: string, password: string): Promise<UserSummary> {
  return mode === 'signup' ? ctx.api.signUp(username, password) : ctx.api.signIn(username, password);
}

/** `/signup`. */
export const mountSignUp = mountAuth('signup');
/** `/signin`. */
export const mountSignIn = mountAuth('signin');
