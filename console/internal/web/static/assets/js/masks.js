// Masks on the page: describing one, the form that creates one and the button that removes
// one. Used by the start-scan dialog, the result detail and the node page.

import * as api from './api.js';
import {h, uniqueId} from './dom.js';
import {formatTime, isPast} from './format.js';
import {Notices, confirmAction} from './ui.js';

// maskScope describes what a mask covers; nodeName maps a node id to its name.
export function maskScope(mask, nodeName = (id) => id) {
  const nodes = mask.node_ids || [];
  if (mask.resource) {
    return `${mask.resource} on ${nodes.map(nodeName).join(', ') || 'every node'}`;
  }
  if (nodes.length === 0) {
    return 'every node';
  }
  return nodes.map(nodeName).join(', ');
}

// maskSummary is one line about a mask: scope, who, when, why and until when.
export function maskSummary(mask, nodeName) {
  const until = mask.expires_at ? `until ${formatTime(mask.expires_at)}` : 'no expiry';
  return h('div', {class: 'mask-summary', 'data-test': 'mask-summary', 'data-mask': mask.id},
    h('div', {}, h('span', {class: 'badge status-masked'}, 'masked'), ' ',
      h('strong', {}, maskScope(mask, nodeName))),
    h('div', {class: 'muted'}, `by ${mask.created_by || 'unknown'} on ${formatTime(mask.created_at)}, ${until}`),
    h('div', {class: 'mask-reason'}, mask.reason));
}

// maskCovers reports whether an active control-level mask covers any of the node ids.
export function maskCovers(mask, nodeIds) {
  if (!mask.active || mask.resource) {
    return false;
  }
  const nodes = mask.node_ids || [];
  return nodes.length === 0 || nodes.some((n) => nodeIds.includes(n));
}

// unmaskButton removes a mask after confirmation, then calls onDone(). onError receives a
// failure.
export function unmaskButton(mask, {onDone, onError, label = 'Unmask', small = true, describe}) {
  const btn = h('button', {type: 'button', class: ['button', small && 'button-small'], 'data-test': 'unmask', 'data-mask': mask.id}, label);
  btn.addEventListener('click', async () => {
    const ok = await confirmAction({
      title: 'Remove mask',
      message: describe || `Unmask ${mask.control_id} on ${maskScope(mask)}? Its results count in the scores again.`,
      okLabel: 'Unmask',
      danger: false,
    });
    if (!ok) {
      return;
    }
    btn.disabled = true;
    try {
      await api.removeMask(mask.id);
      onDone?.();
    } catch (err) {
      btn.disabled = false;
      onError?.(err);
    }
  });
  return btn;
}

// maskForm asks for a reason, a scope and an optional expiry. scopes: [{value, label}];
// onSubmit({reason, scope, expiresAt}) is awaited and its errors shown in the form.
export function maskForm({scopes, title = 'Mask', onSubmit, onCancel, submitLabel = 'Mask'}) {
  const notices = new Notices();
  const reasonId = uniqueId('mask-reason');
  const expiryId = uniqueId('mask-expiry');
  const group = uniqueId('mask-scope');
  const reason = h('textarea', {id: reasonId, rows: 2, required: true, maxlength: 1000, 'data-test': 'mask-reason',
    placeholder: 'Why this does not apply, e.g. "root login is needed by the backup appliance; risk accepted by CISO"'});
  const expiry = h('input', {id: expiryId, type: 'datetime-local', 'data-test': 'mask-expiry'});
  const radios = scopes.map((s, i) => h('label', {class: 'radio'},
    h('input', {type: 'radio', name: group, value: s.value, checked: i === 0, 'data-test': `mask-scope-${s.value}`}), ' ', s.label));
  const submit = h('button', {type: 'submit', class: 'button button-primary', 'data-test': 'mask-submit'}, submitLabel);
  const form = h('form', {class: 'mask-form', 'data-test': 'mask-form', novalidate: true},
    h('div', {class: 'mask-form-title'}, title),
    notices.el,
    h('label', {class: 'field', for: reasonId}, h('span', {class: 'field-label'}, 'Reason (required)'), reason),
    h('fieldset', {class: 'field'}, h('legend', {class: 'field-label'}, 'Scope'), h('div', {class: 'radios'}, radios)),
    h('label', {class: 'field', for: expiryId}, h('span', {class: 'field-label'}, 'Expires (optional)'), expiry,
      h('span', {class: 'field-hint'}, 'Leave empty for a mask that lasts until someone removes it.')),
    h('div', {class: 'form-actions'},
      onCancel ? h('button', {type: 'button', class: 'button', 'data-test': 'mask-cancel', onclick: onCancel}, 'Cancel') : null,
      submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    notices.clear();
    const text = reason.value.trim();
    if (!text) {
      notices.error(new Error('give a reason: auditors read it to know why the result does not count'), 'Cannot mask');
      reason.focus();
      return;
    }
    let expiresAt = null;
    if (expiry.value) {
      expiresAt = new Date(expiry.value);
      if (Number.isNaN(expiresAt.getTime()) || isPast(expiresAt.toISOString())) {
        notices.error(new Error('the expiry must be a date and time in the future, or empty'), 'Cannot mask');
        expiry.focus();
        return;
      }
    }
    const scope = form.querySelector(`input[name="${group}"]:checked`)?.value || scopes[0].value;
    submit.disabled = true;
    try {
      await onSubmit({reason: text, scope, expiresAt});
    } catch (err) {
      notices.error(err, 'Masking failed');
    } finally {
      submit.disabled = false;
    }
  });
  setTimeout(() => reason.focus(), 0);
  return form;
}
