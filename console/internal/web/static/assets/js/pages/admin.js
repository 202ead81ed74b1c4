// Administration: people who sign in (create, list, delete) and API tokens for automation
// (create, showing the secret once, list, revoke).

import * as api from '../api.js';
import {add, h, replace} from '../dom.js';
import {formatTime, isPast} from '../format.js';
import {session} from '../session.js';
import {Notices, confirmAction, copyButton, emptyState, field, loading, pageHeader, section, isAbort} from '../ui.js';

const ROLES = [
  {value: 'viewer', label: 'viewer: reads posture, scans and results'},
  {value: 'analyst', label: 'analyst: also starts and stops scans, masks results'},
  {value: 'admin', label: 'admin: also manages users, tokens and sensors'},
];

const TOKEN_TTLS = [
  {value: '0', label: 'never expires'},
  {value: String(30 * 86400), label: '30 days'},
  {value: String(90 * 86400), label: '90 days'},
  {value: String(365 * 86400), label: '1 year'},
];

// MIN_PASSWORD is the shortest password the console accepts.
const MIN_PASSWORD = 12;

// apiTokenState names an API token's state: active, expired or revoked.
export function apiTokenState(t) {
  if (t.revoked_at) {
    return 'revoked';
  }
  if (t.expires_at && isPast(t.expires_at)) {
    return 'expired';
  }
  return 'active';
}

function roleSelect(testId) {
  return h('select', {'data-test': testId}, ROLES.map((r) => h('option', {value: r.value, selected: r.value === 'viewer'}, r.label)));
}

// render shows the admin page.
export async function render(ctx) {
  const notices = new Notices();
  const users = h('div', {}, loading());
  const tokens = h('div', {}, loading());
  const tokenOutput = h('div');

  // Users.
  const userName = h('input', {type: 'text', required: true, autocomplete: 'off', 'data-test': 'new-user-name'});
  const userRole = roleSelect('new-user-role');
  const userPassword = h('input', {type: 'password', required: true, minlength: MIN_PASSWORD, autocomplete: 'new-password', 'data-test': 'new-user-password'});
  const userSubmit = h('button', {type: 'submit', class: 'button button-primary', 'data-test': 'user-create'}, 'Create user');
  const userForm = h('form', {class: 'inline-form', 'data-test': 'user-form', novalidate: true},
    field('Name', userName), field('Role', userRole), field('Password', userPassword, `At least ${MIN_PASSWORD} characters.`), userSubmit);

  // API tokens.
  const tokenName = h('input', {type: 'text', required: true, autocomplete: 'off', placeholder: 'e.g. ci-pipeline', 'data-test': 'api-token-name'});
  const tokenRole = roleSelect('api-token-role');
  const tokenTtl = h('select', {'data-test': 'api-token-ttl'}, TOKEN_TTLS.map((t) => h('option', {value: t.value, selected: t.value === String(90 * 86400)}, t.label)));
  const tokenSubmit = h('button', {type: 'submit', class: 'button button-primary', 'data-test': 'api-token-create'}, 'Create API token');
  const tokenForm = h('form', {class: 'inline-form', 'data-test': 'api-token-form', novalidate: true},
    field('Name', tokenName), field('Role', tokenRole), field('Lifetime', tokenTtl), tokenSubmit);

  add(ctx.el, pageHeader('Admin', 'People and automation that use the console'), notices.el,
    section('Users', {'data-test': 'users-section'}, userForm, users),
    section('API tokens', {'data-test': 'api-tokens-section'}, tokenForm, tokenOutput, tokens));

  const loadUsers = async () => {
    let list;
    try {
      list = (await api.listUsers()).users || [];
    } catch (err) {
      if (!isAbort(err, ctx.signal)) {
        replace(users);
        notices.error(err, 'Cannot load the users');
      }
      return;
    }
    const me = session()?.name;
    replace(users, h('div', {class: 'table-wrap'}, h('table', {class: 'table', 'data-test': 'users-table'},
      h('thead', {}, h('tr', {}, ['Name', 'Role', 'Created', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.map((u) => {
        const del = u.name === me ? h('span', {class: 'muted small'}, 'you')
          : h('button', {type: 'button', class: 'button button-small button-danger', 'data-test': 'user-delete', 'data-user': u.name}, 'Delete');
        if (u.name !== me) {
          del.addEventListener('click', async () => {
            const ok = await confirmAction({title: 'Delete user', message: `Delete ${u.name}? They can no longer sign in; what they did stays in the audit log.`, okLabel: 'Delete'});
            if (!ok) {
              return;
            }
            del.disabled = true;
            try {
              await api.deleteUser(u.name);
              notices.success(`Deleted ${u.name}.`);
              loadUsers();
            } catch (err) {
              del.disabled = false;
              notices.error(err, 'Deleting the user failed');
            }
          });
        }
        return h('tr', {'data-test': 'user-row', 'data-user': u.name},
          h('td', {}, u.name), h('td', {}, h('span', {class: `role role-${u.role}`}, u.role)), h('td', {class: 'small'}, formatTime(u.created_at)), h('td', {}, del));
      })))));
  };

  const loadTokens = async () => {
    let list;
    try {
      list = (await api.listApiTokens()).tokens || [];
    } catch (err) {
      if (!isAbort(err, ctx.signal)) {
        replace(tokens);
        notices.error(err, 'Cannot load the API tokens');
      }
      return;
    }
    if (list.length === 0) {
      replace(tokens, emptyState('api-tokens-empty', h('p', {}, 'No API token yet. Create one for scripts and CI; it authenticates as "Authorization: Bearer <token>".')));
      return;
    }
    replace(tokens, h('div', {class: 'table-wrap'}, h('table', {class: 'table', 'data-test': 'api-tokens-table'},
      h('thead', {}, h('tr', {}, ['Name', 'Role', 'Created', 'Expires', 'State', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.map((t) => {
        const st = apiTokenState(t);
        const revoke = st === 'active'
          ? h('button', {type: 'button', class: 'button button-small button-danger', 'data-test': 'api-token-revoke', 'data-token': t.id}, 'Revoke')
          : null;
        revoke?.addEventListener('click', async () => {
          const ok = await confirmAction({title: 'Revoke API token', message: `Revoke the token "${t.name}"? Scripts using it are refused from now on.`, okLabel: 'Revoke'});
          if (!ok) {
            return;
          }
          revoke.disabled = true;
          try {
            await api.revokeApiToken(t.id);
            notices.success(`Revoked the token "${t.name}".`);
            loadTokens();
          } catch (err) {
            revoke.disabled = false;
            notices.error(err, 'Revoking failed');
          }
        });
        return h('tr', {'data-test': 'api-token-row', 'data-token': t.id, 'data-state': st},
          h('td', {}, t.name, h('div', {class: 'mono small muted'}, t.id)),
          h('td', {}, h('span', {class: `role role-${t.role}`}, t.role)),
          h('td', {class: 'small'}, `${formatTime(t.created_at)}${t.created_by ? ` by ${t.created_by}` : ''}`),
          h('td', {class: 'small'}, t.expires_at ? formatTime(t.expires_at) : 'never'),
          h('td', {}, h('span', {class: `badge token-${st}`, 'data-test': 'api-token-state'}, st)),
          h('td', {}, revoke));
      })))));
  };

  userForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    notices.clear();
    const name = userName.value.trim();
    if (!name) {
      notices.error(new Error('give the user a name'), 'Cannot create the user');
      userName.focus();
      return;
    }
    if (userPassword.value.length < MIN_PASSWORD) {
      notices.error(new Error(`the password must have at least ${MIN_PASSWORD} characters`), 'Cannot create the user');
      userPassword.focus();
      return;
    }
    userSubmit.disabled = true;
    try {
      const u = await api.createUser(name, userRole.value, userPassword.value);
      notices.success(`Created ${u.name} (${u.role}).`);
      userName.value = '';
      userPassword.value = '';
      loadUsers();
    } catch (err) {
      notices.error(err, 'Creating the user failed');
    } finally {
      userSubmit.disabled = false;
    }
  });

  tokenForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    notices.clear();
    const name = tokenName.value.trim();
    if (!name) {
      notices.error(new Error('give the token a name that says what uses it'), 'Cannot create the token');
      tokenName.focus();
      return;
    }
    tokenSubmit.disabled = true;
    try {
      const t = await api.createApiToken(name, tokenRole.value, Number(tokenTtl.value));
      tokenName.value = '';
      replace(tokenOutput, h('div', {class: 'secret-output', 'data-test': 'api-token-output'},
        h('p', {class: 'secret-warning'}, h('strong', {}, 'Copy it now: '), `the secret of "${t.name}" (${t.role}) is shown only once.`),
        h('div', {class: 'secret-line'}, h('code', {class: 'secret', 'data-test': 'api-token-secret'}, t.token), copyButton(() => t.token, 'copy-api-token')),
        h('button', {type: 'button', class: 'link-button', 'data-test': 'api-token-output-dismiss', onclick: () => tokenOutput.replaceChildren()}, 'I have copied it, hide the secret')));
      loadTokens();
    } catch (err) {
      notices.error(err, 'Creating the API token failed');
    } finally {
      tokenSubmit.disabled = false;
    }
  });

  await Promise.all([loadUsers(), loadTokens()]);
}
