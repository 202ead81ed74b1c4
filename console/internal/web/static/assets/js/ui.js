// Shared pieces of the pages: banners, badges, dialogs, the side panel, sortable tables and
// copy buttons.

import {add, h, replace, copyText} from './dom.js';
import {formatScore, scoreClass, stateLabel, stateName, statusName, isTerminal, targetLabel} from './format.js';

// Notices is a page's banner area for errors and confirmations.
export class Notices {
  constructor() {
    this.el = h('div', {class: 'notices', 'aria-live': 'polite'});
  }

  // error shows an API or other error with its message; it replaces earlier notices.
  error(err, context) {
    const message = err?.message || String(err);
    const code = err?.code && err.code !== 'UNKNOWN' ? err.code : '';
    replace(this.el, h('div', {class: 'banner banner-error', role: 'alert', 'data-test': 'error-banner'},
      h('strong', {}, context ? `${context}: ` : 'Error: '),
      h('span', {'data-test': 'error-message'}, message),
      code ? h('span', {class: 'banner-code'}, code) : null,
      dismissButton(this)));
  }

  // success shows a confirmation.
  success(message) {
    replace(this.el, h('div', {class: 'banner banner-success', role: 'status', 'data-test': 'success-banner'},
      h('span', {}, message), dismissButton(this)));
  }

  // info shows a neutral message.
  info(...children) {
    replace(this.el, h('div', {class: 'banner banner-info', role: 'status', 'data-test': 'info-banner'},
      h('span', {}, ...children), dismissButton(this)));
  }

  clear() {
    this.el.replaceChildren();
  }
}

function dismissButton(notices) {
  return h('button', {type: 'button', class: 'banner-close', 'aria-label': 'Dismiss', onclick: () => notices.clear()}, '×');
}

// statusBadge shows a result status ("STATUS_FAIL" or "fail").
export function statusBadge(status) {
  const name = statusName(status) || 'none';
  return h('span', {class: `badge status-${name}`, 'data-status': name}, name === 'none' ? '—' : name);
}

// maskedBadge marks a masked result.
export function maskedBadge() {
  return h('span', {class: 'badge status-masked', 'data-status': 'masked'}, 'masked');
}

// stateBadge shows a scan state.
export function stateBadge(state) {
  const name = stateName(state) || 'none';
  const cls = isTerminal(state) ? `state-${name}` : 'state-active';
  return h('span', {class: `badge ${cls}`, 'data-state': name}, name === 'none' ? '—' : stateLabel(state));
}

// severityBadge shows a control's severity.
export function severityBadge(severity) {
  return h('span', {class: `severity severity-${severity || 'none'}`, 'data-severity': severity || ''}, severity || '—');
}

// scoreText shows a Score message's score ("87.5%" or "n/a"), coloured by grade.
export function scoreText(score, attrs = {}) {
  return h('span', {...attrs, class: ['score', scoreClass(score), attrs.class]}, formatScore(score));
}

// Modal is a dialog over the page. Closing it (Escape, the close button or close()) calls
// onClose once.
export class Modal {
  constructor({title, testId, wide = false, onClose}) {
    this.onClose = onClose;
    this.body = h('div', {class: 'modal-body'});
    this.footer = h('div', {class: 'modal-footer'});
    this.titleEl = h('h2', {class: 'modal-title'}, title);
    this.dialog = h('dialog', {class: ['modal', wide && 'modal-wide'], 'data-test': testId, 'aria-label': title},
      h('div', {class: 'modal-header'}, this.titleEl,
        h('button', {type: 'button', class: 'icon-button', 'aria-label': 'Close', 'data-test': 'modal-close', onclick: () => this.close()}, '×')),
      this.body, this.footer);
    this.dialog.addEventListener('close', () => {
      this.dialog.remove();
      this.onClose?.();
      this.onClose = null;
    });
  }

  setTitle(title) {
    this.titleEl.textContent = title;
  }

  open() {
    document.body.appendChild(this.dialog);
    this.dialog.showModal();
    return this;
  }

  close() {
    if (this.dialog.open) {
      this.dialog.close();
    }
  }
}

// confirmAction asks before something that cannot be undone; it resolves to true when the
// user confirms.
export function confirmAction({title, message, okLabel = 'Confirm', danger = true}) {
  return new Promise((resolve) => {
    let answer = false;
    const modal = new Modal({title, testId: 'confirm-dialog', onClose: () => resolve(answer)});
    modal.body.appendChild(h('p', {}, message));
    add(modal.footer, 
      h('button', {type: 'button', class: 'button', 'data-test': 'confirm-cancel', onclick: () => modal.close()}, 'Cancel'),
      h('button', {
        type: 'button', class: ['button', danger ? 'button-danger' : 'button-primary'], 'data-test': 'confirm-ok',
        onclick: () => {
          answer = true;
          modal.close();
        },
      }, okLabel));
    modal.open();
  });
}

// Drawer is the side panel that shows one item's detail over the right of the page.
export class Drawer {
  constructor({testId, title, onClose}) {
    this.onClose = onClose;
    this.body = h('div', {class: 'drawer-body'});
    this.titleEl = h('h2', {class: 'drawer-title'}, title || '');
    this.el = h('aside', {class: 'drawer', 'data-test': testId, role: 'dialog', 'aria-label': title || 'Detail'},
      h('div', {class: 'drawer-header'}, this.titleEl,
        h('button', {type: 'button', class: 'icon-button', 'aria-label': 'Close', 'data-test': 'detail-close', onclick: () => this.close()}, '×')),
      this.body);
    this.keyListener = (e) => {
      if (!this.el.isConnected) {
        // The page went away with the panel.
        document.removeEventListener('keydown', this.keyListener);
      } else if (e.key === 'Escape' && !document.querySelector('dialog[open]')) {
        this.close();
      }
    };
  }

  // show attaches the panel to parent (the page, so navigation removes it).
  show(parent) {
    parent.appendChild(this.el);
    document.addEventListener('keydown', this.keyListener);
    return this;
  }

  setTitle(title) {
    this.titleEl.textContent = title;
    this.el.setAttribute('aria-label', title);
  }

  close() {
    document.removeEventListener('keydown', this.keyListener);
    this.el.remove();
    this.onClose?.();
    this.onClose = null;
  }
}

// SortableTable renders rows with clickable column headers. columns: [{label, sort(row) ->
// comparable (null sorts last), render(row) -> node or text, class, title}].
export class SortableTable {
  constructor({columns, rows = [], rowAttrs = () => ({}), sortKey = null, sortDir = 'asc', testId, empty = 'Nothing to show.', onRowClick, onDraw}) {
    this.columns = columns;
    this.rows = rows;
    this.rowAttrs = rowAttrs;
    this.sortKey = sortKey;
    this.sortDir = sortDir;
    this.empty = empty;
    this.onRowClick = onRowClick;
    this.onDraw = onDraw;
    this.thead = h('thead');
    this.tbody = h('tbody');
    this.el = h('div', {class: 'table-wrap'}, h('table', {class: 'table', 'data-test': testId}, this.thead, this.tbody));
    this.draw();
  }

  setRows(rows) {
    this.rows = rows;
    this.draw();
  }

  sortBy(index) {
    if (this.sortKey === index) {
      this.sortDir = this.sortDir === 'asc' ? 'desc' : 'asc';
    } else {
      this.sortKey = index;
      this.sortDir = 'asc';
    }
    this.draw();
  }

  sorted() {
    const col = this.columns[this.sortKey];
    if (!col?.sort) {
      return this.rows;
    }
    const dir = this.sortDir === 'asc' ? 1 : -1;
    return [...this.rows].sort((a, b) => {
      const x = col.sort(a);
      const y = col.sort(b);
      if (x === y) {
        return 0;
      }
      if (x === null || x === undefined) {
        return 1;
      }
      if (y === null || y === undefined) {
        return -1;
      }
      if (typeof x === 'string' && typeof y === 'string') {
        return dir * x.localeCompare(y, undefined, {numeric: true, sensitivity: 'base'});
      }
      return dir * (x < y ? -1 : 1);
    });
  }

  draw() {
    replace(this.thead, h('tr', {}, this.columns.map((col, i) => {
      if (!col.sort) {
        return h('th', {class: col.class, title: col.title}, col.header ? col.header() : col.label);
      }
      const active = this.sortKey === i;
      return h('th', {
        class: [col.class, 'sortable'],
        title: col.title,
        'aria-sort': active ? (this.sortDir === 'asc' ? 'ascending' : 'descending') : 'none',
      }, h('button', {type: 'button', class: 'sort-button', 'data-test': col.testId, onclick: () => this.sortBy(i)},
        col.label, h('span', {class: 'sort-mark', 'aria-hidden': 'true'}, active ? (this.sortDir === 'asc' ? '▲' : '▼') : '')));
    })));
    const rows = this.sorted();
    if (rows.length === 0) {
      replace(this.tbody, h('tr', {class: 'empty-row'}, h('td', {colspan: this.columns.length}, this.empty)));
      this.onDraw?.();
      return;
    }
    replace(this.tbody, rows.map((row) => {
      const tr = h('tr', this.rowAttrs(row), this.columns.map((col) => h('td', {class: col.class}, col.render(row))));
      if (this.onRowClick) {
        tr.classList.add('clickable');
        tr.addEventListener('click', (e) => {
          if (!e.target.closest('a, button, input, label, select')) {
            this.onRowClick(row, tr);
          }
        });
      }
      return tr;
    }));
    this.onDraw?.();
  }
}

// copyButton copies text() to the clipboard and says so.
export function copyButton(text, testId, label = 'Copy') {
  const btn = h('button', {type: 'button', class: 'button button-small', 'data-test': testId}, label);
  btn.addEventListener('click', async () => {
    try {
      await copyText(text());
      btn.textContent = 'Copied';
    } catch (err) {
      btn.textContent = 'Copy failed';
      btn.title = err.message;
    }
    setTimeout(() => {
      btn.textContent = label;
    }, 1500);
  });
  return btn;
}

// emptyState is the message of an empty list, with what to do next.
export function emptyState(testId, ...children) {
  return h('div', {class: 'empty-state', 'data-test': testId}, ...children);
}

// loading is a placeholder shown while a page fetches its data.
export function loading(text = 'Loading…') {
  return h('p', {class: 'loading', 'data-test': 'loading'}, text);
}

// section is a titled block of a page.
export function section(title, attrs, ...children) {
  return h('section', {class: 'section', ...attrs}, title ? h('h2', {class: 'section-title'}, title) : null, ...children);
}

// field wraps a form control with its label.
export function field(label, control, hint) {
  return h('label', {class: 'field'}, h('span', {class: 'field-label'}, label), control, hint ? h('span', {class: 'field-hint'}, hint) : null);
}

// isAbort reports whether err is the page's navigation abort rather than a failure.
export function isAbort(err, signal) {
  return Boolean(signal?.aborted) || err?.name === 'AbortError';
}

// pageHeader is the title row of a page with its actions on the right.
export function pageHeader(title, subtitle, ...actions) {
  return h('div', {class: 'page-header'},
    h('div', {class: 'page-heading'}, h('h1', {class: 'page-title', 'data-test': 'page-title'}, title),
      subtitle ? h('p', {class: 'page-subtitle'}, subtitle) : null),
    h('div', {class: 'page-actions'}, ...actions));
}

// referencesList groups a control's requirement ids by benchmark, with the requirements'
// titles where the catalogue has them.
export function referencesList(refs, benchById) {
  if (refs.length === 0) {
    return h('p', {class: 'muted', 'data-test': 'detail-references'}, 'This control cites no framework requirement.');
  }
  const byBench = new Map();
  for (const ref of refs) {
    if (!byBench.has(ref.benchmark_id)) {
      byBench.set(ref.benchmark_id, []);
    }
    byBench.get(ref.benchmark_id).push(ref.requirement_id);
  }
  return h('dl', {class: 'references', 'data-test': 'detail-references'}, [...byBench.entries()].map(([id, reqs]) => {
    const b = benchById.get(id);
    return h('div', {class: 'reference', 'data-benchmark': id},
      h('dt', {}, b ? `${b.framework || (b.short_name || id).toUpperCase()}` : id,
        h('span', {class: 'muted small'}, b ? ` ${b.title}${b.target_type ? ` (${targetLabel(b.target_type)})` : ''}` : '')),
      h('dd', {}, reqs.map((req) => {
        const title = b?.requirements?.find((x) => x.id === req)?.title;
        return h('div', {class: 'requirement', 'data-requirement': req}, h('span', {class: 'chip mono'}, req), title ? ` ${title}` : '');
      })));
  }));
}
