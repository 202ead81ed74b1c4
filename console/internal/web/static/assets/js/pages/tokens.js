// Enrolment tokens (administrators): create one and show it once with the command that
// enrols a sensor and the DaemonSet snippet, list them with their state, revoke them.

import * as api from '../api.js';
import {add, h, replace} from '../dom.js';
import {formatTime, isPast, plural, relativeTime} from '../format.js';
import {Notices, confirmAction, copyButton, emptyState, field, loading, pageHeader, section, isAbort} from '../ui.js';

const UNITS = [
  {value: '60', label: 'minutes'},
  {value: '3600', label: 'hours'},
  {value: '86400', label: 'days'},
];

// MAX_UINT32 is the largest lifetime or number of uses the API takes (32-bit fields).
const MAX_UINT32 = 4294967295;

// enrolmentState names a token's state: active, expired, used up or revoked.
export function enrolmentState(t) {
  if (t.revoked_at) {
    return 'revoked';
  }
  if ((t.used || 0) >= (t.uses || 0) && t.uses > 0) {
    return 'used up';
  }
  if (isPast(t.expires_at)) {
    return 'expired';
  }
  return 'active';
}

// render shows the enrolment tokens page.
export async function render(ctx) {
  const notices = new Notices();
  const output = h('div', {class: 'token-output-slot'});
  const list = h('div', {}, loading());
  const ttl = h('input', {type: 'number', min: 1, step: 1, value: '1', required: true, class: 'input-short', 'data-test': 'token-ttl'});
  const unit = h('select', {'data-test': 'token-ttl-unit', 'aria-label': 'Unit'}, UNITS.map((u) => h('option', {value: u.value, selected: u.value === '3600'}, u.label)));
  const uses = h('input', {type: 'number', min: 1, step: 1, value: '1', required: true, class: 'input-short', 'data-test': 'token-uses'});
  const submit = h('button', {type: 'submit', class: 'button button-primary', 'data-test': 'token-create'}, 'Create token');
  const form = h('form', {class: 'inline-form', 'data-test': 'token-form', novalidate: true},
    field('Valid for', h('span', {class: 'input-group'}, ttl, unit)),
    field('Enrolments allowed', uses, 'One per host; for a DaemonSet, the number of nodes.'),
    submit);
  add(ctx.el, 
    pageHeader('Enrolment tokens', 'A sensor enrols once with a short-lived token, then authenticates with its own certificate'),
    notices.el,
    section('Create a token', {'data-test': 'token-create-section'}, form, output),
    section('Tokens', {'data-test': 'token-list-section'}, list));

  const load = async () => {
    let tokens;
    try {
      tokens = (await api.listEnrolmentTokens()).tokens || [];
    } catch (err) {
      if (!isAbort(err, ctx.signal)) {
        replace(list);
        notices.error(err, 'Cannot load the enrolment tokens');
      }
      return;
    }
    if (tokens.length === 0) {
      replace(list, emptyState('tokens-empty', h('p', {}, 'No enrolment token yet. Create one above, then run the command it shows on each host.')));
      return;
    }
    replace(list, h('div', {class: 'table-wrap'}, h('table', {class: 'table', 'data-test': 'token-table'},
      h('thead', {}, h('tr', {}, ['Token', 'Created', 'Expires', 'Enrolments', 'State', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, tokens.map((t) => {
        const st = enrolmentState(t);
        const revoke = st === 'active'
          ? h('button', {type: 'button', class: 'button button-small button-danger', 'data-test': 'token-revoke', 'data-token': t.id}, 'Revoke')
          : null;
        revoke?.addEventListener('click', async () => {
          const ok = await confirmAction({title: 'Revoke enrolment token', message: `Revoke token ${t.id}? Sensors that have not enrolled with it yet will be refused; enrolled ones keep working.`, okLabel: 'Revoke'});
          if (!ok) {
            return;
          }
          revoke.disabled = true;
          try {
            await api.revokeEnrolmentToken(t.id);
            notices.success(`Revoked token ${t.id}.`);
            load();
          } catch (err) {
            revoke.disabled = false;
            notices.error(err, 'Revoking failed');
          }
        });
        return h('tr', {'data-test': 'token-row', 'data-token': t.id, 'data-state': st},
          h('td', {class: 'mono small'}, t.id),
          h('td', {class: 'small'}, `${formatTime(t.created_at)}${t.created_by ? ` by ${t.created_by}` : ''}`),
          h('td', {class: 'small', title: formatTime(t.expires_at)}, `${formatTime(t.expires_at)} (${relativeTime(t.expires_at)})`),
          h('td', {class: 'small'}, `${t.used || 0} of ${t.uses || 0}`),
          h('td', {}, h('span', {class: `badge token-${st.replace(' ', '-')}`, 'data-test': 'token-state'}, st)),
          h('td', {}, revoke));
      })))));
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    notices.clear();
    const amount = Number(ttl.value);
    const count = Number(uses.value);
    if (!Number.isInteger(amount) || amount < 1) {
      notices.error(new Error('the lifetime must be a whole number of at least 1'), 'Cannot create the token');
      ttl.focus();
      return;
    }
    if (!Number.isInteger(count) || count < 1 || count > MAX_UINT32) {
      notices.error(new Error('the number of enrolments must be a whole number of at least 1'), 'Cannot create the token');
      uses.focus();
      return;
    }
    const seconds = amount * Number(unit.value);
    if (seconds > MAX_UINT32) {
      notices.error(new Error('the lifetime is too long; choose a shorter one'), 'Cannot create the token');
      return;
    }
    submit.disabled = true;
    try {
      const t = await api.createEnrolmentToken(seconds, count);
      replace(output, tokenOutput(t, () => output.replaceChildren()));
      load();
    } catch (err) {
      notices.error(err, 'Creating the token failed');
    } finally {
      submit.disabled = false;
    }
  });

  await load();
}

// tokenOutput shows a new token once, with the sensor command and the DaemonSet snippet.
function tokenOutput(t, onDismiss) {
  return h('div', {class: 'secret-output', 'data-test': 'token-output'},
    h('p', {class: 'secret-warning'}, h('strong', {}, 'Copy it now: '),
      `the token is shown only once. It allows ${plural(t.uses, 'enrolment')} until ${formatTime(t.expires_at)}.`),
    h('div', {class: 'secret-line'}, h('code', {class: 'secret', 'data-test': 'token-value'}, t.token), copyButton(() => t.token, 'copy-token')),
    h('h3', {}, 'Enrol and run a sensor on a Linux host'),
    h('div', {class: 'code-block'}, h('pre', {'data-test': 'token-sensor-command'}, t.sensor_command), copyButton(() => t.sensor_command, 'copy-sensor-command')),
    h('h3', {}, 'Kubernetes: a sensor on every node (DaemonSet)'),
    h('div', {class: 'code-block'}, h('pre', {'data-test': 'token-daemonset'}, t.daemonset_snippet), copyButton(() => t.daemonset_snippet, 'copy-daemonset')),
    h('button', {type: 'button', class: 'link-button', 'data-test': 'token-output-dismiss', onclick: onDismiss}, 'I have copied it, hide the token'));
}
