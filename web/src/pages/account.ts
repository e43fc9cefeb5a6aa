import type { ArchiveSummary } from '../../../common/protocol/archives.ts';
import type { UserSummary } from '../../../common/protocol/events.ts';
import { ProtocolError } from '../../../common/protocol/errors.ts';
import type { Profile } from '../../../common/protocol/profiles.ts';
import { PROFILE_RULES } from '../../../common/protocol/rules.ts';
import { field, h, replace, uid } from '../dom.ts';
import { profilePath } from '../router.ts';
import { formatBytes } from '../format.ts';
import type { PageMount } from '../page.ts';
import { Signal } from '../signaling.ts';
import { StreamKeysPanel } from '../ui/StreamKeysPanel.ts';

/**
 * `/account`: your profile (display name, bio, avatar upload and removal), change the password,
 * the list of users you blocked (with "Unblock"), stream keys for encoders (ui/StreamKeysPanel.ts), sign out everywhere, and "Download your data". Starts the archive job, shows its progress live (a
 * progressbar fed by the `archive:status` socket event) and the download link when ready.
 */
export const mountAccount: PageMount = (root, ctx) => {
  ctx.setTitle('Your account');
  const status = h('p', { role: 'status', 'aria-label': 'Archive status' });
  const bar = h('progress', { max: 100, value: 0, 'aria-label': 'Archive progress', hidden: true });
  const link = h('p', {});
  const button = h('button', { type: 'button' }, 'Download your data');
  const current = field('Current password', { type: 'password', autocomplete: 'current-password', required: true });
  const next = field('New password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 256 });
  const change = h('button', { type: 'submit' }, 'Change password');
  const passwordStatus = h('p', { role: 'status', 'aria-label': 'Password status' });
  const passwordForm = h('form', { 'aria-label': 'Change password' }, current.wrapper, next.wrapper, change);
  const everywhere = h('button', { type: 'button' }, 'Sign out everywhere');
  // Your profile: display name, bio, avatar.
  const profileLink = h('p', {});
  const avatarImg = h('img', { class: 'avatar large', alt: 'Your avatar', width: 128, height: 128, hidden: true });
  const displayName = field('Display name', { type: 'text', maxlength: PROFILE_RULES.displayNameMax, autocomplete: 'nickname' }, 'Shown instead of your username; leave empty to show your username.');
  const bioId = uid('bio');
  const bio = h('textarea', { id: bioId, maxlength: PROFILE_RULES.bioMax, rows: 3 });
  const saveProfile = h('button', { type: 'submit' }, 'Save profile');
  const profileStatus = h('p', { role: 'status', 'aria-label': 'Profile status' });
  const profileForm = h(
    'form',
    { 'aria-label': 'Your profile' },
    displayName.wrapper,
    h('div', { class: 'field' }, h('label', { for: bioId }, 'Bio'), bio, h('small', { class: 'hint' }, `At most ${PROFILE_RULES.bioMax} characters.`)),
    saveProfile,
  );
  const avatarFile = field('Avatar image', { type: 'file', accept: 'image/jpeg,image/png,image/webp,image/gif' }, `JPEG, PNG, WebP or GIF, at most ${PROFILE_RULES.avatarMaxBytes / (1024 * 1024)} MB; made square.`);
  const uploadAvatar = h('button', { type: 'button' }, 'Upload avatar');
  const removeAvatar = h('button', { type: 'button' }, 'Remove avatar');
  const blockList = h('ul', { class: 'block-list', 'aria-label': 'Blocked users' });
  const blockStatus = h('p', { role: 'status', 'aria-label': 'Block list status' });
  const deletePassword = field('Password to delete your account', { type: 'password', autocomplete: 'current-password' });
  const deleteButton = h('button', { type: 'button', class: 'danger' }, 'Delete your account');
  const deleteYes = h('button', { type: 'button', class: 'danger' }, 'Yes, delete my account');
  const deleteNo = h('button', { type: 'button' }, 'Cancel');
  const deleteConfirm = h(
    'div',
    { role: 'alertdialog', 'aria-label': 'Delete your account?', class: 'confirm', hidden: true },
    h('p', {}, 'Delete your account for good? Your profile, broadcasts, replays, archives and sessions are removed; your messages in others’ replays stay as “deleted user”. This cannot be undone.'),
    deleteYes,
    deleteNo,
  );
  // Going live from OBS and other encoders (docs/ingest.md).
  const streamKeys = new StreamKeysPanel(ctx.api, (err) => ctx.alerts.show(err instanceof ProtocolError ? `${err.message} (${err.code})` : (err as Error).message));
  // A suspended account sees why (docs/moderation.md); everything on this page still works.
  const suspendedNotice = h('div', { class: 'notice suspended', role: 'status', 'aria-label': 'Account suspended', hidden: true });
  replace(
    root,
    h(
      'section',
      { class: 'account' },
      h('h1', {}, 'Your account'),
      suspendedNotice,
      h('h2', {}, 'Your profile'),
      profileLink,
      avatarImg,
      avatarFile.wrapper,
      uploadAvatar,
      removeAvatar,
      profileForm,
      profileStatus,
      h('h2', {}, 'Download your data'),
      h(
        'p',
        {},
        'One zip with your replays, the chat and hearts of your broadcasts, your messages in others’ broadcasts, your profile and avatar, whom you follow and who follows you, your notifications, ' +
          'a manifest with a SHA-256 for every file, and an offline viewer (open index.html).',
      ),
      button,
      bar,
      status,
      link,
      h('h2', {}, 'Password'),
      h('p', {}, 'Changing it signs you out on every other device and tab; this one stays signed in.'),
      passwordForm,
      passwordStatus,
      h('h2', {}, 'Blocked users'),
      h('p', {}, 'People you blocked cannot watch, chat in or send hearts to your broadcasts, nor watch your replays. Block someone from your live page (the chat or the viewer list).'),
      blockList,
      blockStatus,
      h('h2', {}, 'Stream keys'),
      streamKeys.element,
      h('h2', {}, 'Sessions'),
      h('p', {}, 'Signs you out on every device and tab, this one included.'),
      everywhere,
      h('h2', {}, 'Delete your account'),
      h('p', {}, 'Download your data first (above): once deleted, nothing can be recovered.'),
      deletePassword.wrapper,
      deleteButton,
      deleteConfirm,
    ),
  );
  const showError = (err: unknown): void => ctx.alerts.show(err instanceof ProtocolError ? `${err.message} (${err.code})` : (err as Error).message);
  const showProfile = (p: Profile): void => {
    replace(profileLink, h('a', { href: profilePath(p.username) }, 'View your profile'), ` · ${p.followers} followers · ${p.following} following`);
    avatarImg.src = p.avatarUrl;
    avatarImg.hidden = false;
    displayName.input.value = p.displayName ?? '';
    bio.value = p.bio;
    removeAvatar.hidden = p.avatarUrl.endsWith('/default.svg');
  };
  profileForm.addEventListener('submit', (event) => {
    event.preventDefault();
    saveProfile.disabled = true;
    ctx.api
      .updateProfile({ displayName: displayName.input.value, bio: bio.value })
      .then(
        (p) => {
          showProfile(p);
          profileStatus.textContent = 'Your profile was saved.';
        },
        showError,
      )
      .finally(() => {
        saveProfile.disabled = false;
      });
  });
  uploadAvatar.addEventListener('click', () => {
    const file = avatarFile.input.files?.[0];
    if (!file) {
      ctx.alerts.show('Choose an image first.');
      return;
    }
    uploadAvatar.disabled = true;
    ctx.api
      .uploadAvatar(file)
      .then(
        (p) => {
          showProfile(p);
          avatarFile.input.value = '';
          profileStatus.textContent = 'Your avatar was changed.';
        },
        showError,
      )
      .finally(() => {
        uploadAvatar.disabled = false;
      });
  });
  removeAvatar.addEventListener('click', () => {
    removeAvatar.disabled = true;
    ctx.api
      .removeAvatar()
      .then(
        (p) => {
          showProfile(p);
          profileStatus.textContent = 'Your avatar was removed.';
        },
        showError,
      )
      .finally(() => {
        removeAvatar.disabled = false;
      });
  });
  deleteButton.addEventListener('click', () => {
    deleteConfirm.hidden = false;
    deleteNo.focus();
  });
  deleteNo.addEventListener('click', () => {
    deleteConfirm.hidden = true;
    deleteButton.focus();
  });
  deleteYes.addEventListener('click', () => {
    deleteYes.disabled = true;
    ctx.api.deleteAccount(deletePassword.input.value).then(
      () => {
        ctx.session.set(null);
        ctx.navigate('/', { replace: true });
        ctx.alerts.show('Your account was deleted.');
      },
      (err: unknown) => {
        deleteYes.disabled = false;
        deleteConfirm.hidden = true;
        ctx.alerts.show(err instanceof ProtocolError ? `${err.message} (${err.code})` : (err as Error).message);
      },
    );
  });
  passwordForm.addEventListener('submit', (event) => {
    event.preventDefault();
    change.disabled = true;
    ctx.api
      .changePassword(current.input.value, next.input.value)
      .then(
        () => {
          current.input.value = '';
          next.input.value = '';
          passwordStatus.textContent = 'Your password was changed; your other sessions were signed out.';
        },
        (err: unknown) => ctx.alerts.show(err instanceof ProtocolError ? `${err.message} (${err.code})` : (err as Error).message),
      )
      .finally(() => {
        change.disabled = false;
      });
  });
  everywhere.addEventListener('click', () => {
    everywhere.disabled = true;
    ctx.api.signOutEverywhere().then(
      () => {
        ctx.session.set(null);
        ctx.navigate('/signin', { replace: true });
      },
      (err: unknown) => {
        everywhere.disabled = false;
        ctx.alerts.show((err as Error).message);
      },
    );
  });

  const render = (a: ArchiveSummary | null): void => {
    bar.hidden = a?.state !== 'building';
    bar.value = a?.percent ?? 0;
    button.disabled = a?.state === 'building';
    if (!a) status.textContent = '';
    else if (a.state === 'building') status.textContent = `Building your archive… ${a.percent}%`;
    else if (a.state === 'failed') status.textContent = `Your archive failed: ${a.reason ?? 'unknown error'}`;
    else status.textContent = a.downloadUrl ? 'Your archive is ready.' : 'Your archive link has expired; ask for a new one.';
    replace(
      link,
      a?.state === 'ready' && a.downloadUrl
        ? h(
            'span',
            {},
            h('a', { href: a.downloadUrl, download: '' }, 'Download the archive'),
            ` (${formatBytes(a.sizeBytes ?? 0)}, until ${new Date(a.expiresAt ?? '').toLocaleString()}) `,
            // The archive's checksum: the SHA-256 of its manifest.json, which lists every file's SHA-256 (docs/archives.md).
            h('small', { class: 'sha', title: 'sha256sum of manifest.json in the zip; the manifest lists every file’s SHA-256' }, `manifest.json SHA-256 ${a.sha256 ?? ''}`),
          )
        : null,
    );
  };

  const renderBlocked = (entries: Array<{ user: UserSummary; blockedAt: string }>): void => {
    if (entries.length === 0) {
      replace(blockList, h('li', { class: 'empty' }, 'You have not blocked anyone.'));
      return;
    }
    replace(
      blockList,
      ...entries.map(({ user, blockedAt }) => {
        const unblock = h('button', { type: 'button', class: 'small', 'aria-label': `Unblock ${user.username}` }, 'Unblock');
        unblock.addEventListener('click', () => {
          unblock.disabled = true;
          ctx.api.unblock(user.id).then(
            () => {
              blockStatus.textContent = `${user.username} is unblocked.`;
              return loadBlocked();
            },
            (err: unknown) => {
              unblock.disabled = false;
              ctx.alerts.show(err);
            },
          );
        });
        return h('li', {}, h('span', {}, user.username), h('small', { class: 'meta' }, ` since ${new Date(blockedAt).toLocaleDateString()}`), unblock);
      }),
    );
  };
  const loadBlocked = async (): Promise<void> => {
    try {
      const entries = await ctx.api.listBlocked();
      if (!closed) renderBlocked(entries);
    } catch (err) {
      if (!closed) ctx.alerts.show(err);
    }
  };

  let closed = false;
  let signal: Signal | undefined;
  void ctx.sessionReady.then(async () => {
    if (closed) return;
    if (!ctx.session.user) {
      ctx.navigate(`/signin?next=${encodeURIComponent('/account')}`, { replace: true });
      return;
    }
    signal = Signal.connect();
    signal.on('archive:status', ({ archive }) => render(archive));
    ctx.api.ownProfile().then((p) => {
      if (!closed) showProfile(p);
    }, showError);
    void loadBlocked();
    void streamKeys.load();
    ctx.api.suspension().then(
      (s) => {
        if (closed || !s) return;
        replace(
          suspendedNotice,
          h('h2', {}, 'Your account is suspended'),
          h('p', {}, `Reason: ${s.reason}`),
          h('p', {}, `Since ${new Date(s.since).toLocaleString()}. You cannot go live or chat; you can still watch, and download your data below.`),
        );
        suspendedNotice.hidden = false;
      },
      () => undefined,
    );
    try {
      render(await ctx.api.latestArchive());
    } catch (err) {
      ctx.alerts.show((err as Error).message);
    }
  });
  button.addEventListener('click', () => {
    button.disabled = true;
    ctx.api.requestArchive().then(render, (err: unknown) => {
      button.disabled = false;
      ctx.alerts.show(err instanceof ProtocolError ? `${err.message} (${err.code})` : (err as Error).message);
    });
  });
  return () => {
    closed = true;
    streamKeys.close();
    signal?.close();
  };
};
