// The start-scan dialog: pick nodes and the benchmarks valid for their target types, preview
// the controls that will run (leaving some out, masking or unmasking them), start, then follow
// the progress of every scan started until all have ended.

import * as api from '../api.js';
import {add, h, replace, sleep, debounce} from '../dom.js';
import {TARGET_TYPES, targetLabel, plural, isTerminal, stateName} from '../format.js';
import {href} from '../router.js';
import {can} from '../session.js';
import {Modal, Notices, loading, severityBadge, stateBadge, isAbort} from '../ui.js';
import {maskCovers, maskForm, maskScope, unmaskButton} from '../masks.js';

// POLL_MS is how often a running scan's progress is fetched.
const POLL_MS = 1000;

// openScanDialog opens the dialog. nodes: [{id, name, target_type, connected}]; selected: ids
// checked at first; signal closes the dialog when the page goes away; onClose(started) runs
// once when it closes, started telling whether any scan was started.
export function openScanDialog({nodes, selected = [], signal, onClose}) {
  const ctrl = new AbortController();
  const dialogSignal = signal ? AbortSignal.any([signal, ctrl.signal]) : ctrl.signal;
  let started = false;
  const modal = new Modal({
    title: 'Start a scan', testId: 'scan-dialog', wide: true,
    onClose: () => {
      ctrl.abort();
      onClose?.(started);
    },
  });
  signal?.addEventListener('abort', () => modal.close(), {once: true});

  const nodeById = new Map(nodes.map((n) => [n.id, n]));
  const nodeName = (id) => nodeById.get(id)?.name || id;
  const state = {
    nodes: new Set(selected.filter((id) => nodeById.has(id))),
    benchmarks: new Set(),
    excluded: new Set(),
    masks: [],
    catalogue: [],
    // control id -> {control, benchIds}
    preview: new Map(),
  };
  const notices = new Notices();
  const nodeSection = h('section', {class: 'dialog-section', 'data-test': 'dialog-nodes'});
  const benchSection = h('section', {class: 'dialog-section', 'data-test': 'dialog-benchmarks'});
  const previewSection = h('section', {class: 'dialog-section', 'data-test': 'control-preview'});
  const summary = h('span', {class: 'dialog-summary', 'data-test': 'scan-summary'});
  const startButton = h('button', {type: 'button', class: 'button button-primary', 'data-test': 'scan-start', disabled: true}, 'Start scan');
  const previewSearch = h('input', {type: 'search', class: 'search', placeholder: 'Search controls', 'aria-label': 'Search the controls to run', 'data-test': 'control-preview-search'});

  add(modal.body, notices.el, nodeSection, benchSection, previewSection);
  add(modal.footer, summary,
    h('button', {type: 'button', class: 'button', 'data-test': 'scan-cancel', onclick: () => modal.close()}, 'Cancel'),
    startButton);
  modal.open();

  const selectedTypes = () => TARGET_TYPES.filter((tt) => [...state.nodes].some((id) => nodeById.get(id)?.target_type === tt));
  const nodesOfType = (tt) => [...state.nodes].filter((id) => nodeById.get(id)?.target_type === tt);

  // Nodes.
  const renderNodes = () => {
    const filter = h('input', {type: 'search', class: 'search', placeholder: 'Filter nodes', 'aria-label': 'Filter nodes', 'data-test': 'dialog-node-search'});
    const groups = TARGET_TYPES.map((tt) => {
      const ofType = nodes.filter((n) => n.target_type === tt);
      if (ofType.length === 0) {
        return null;
      }
      return h('div', {class: 'check-group', 'data-target-type': tt},
        h('div', {class: 'check-group-title'}, targetLabel(tt)),
        h('div', {class: 'check-grid'}, ofType.map((n) => {
          const box = h('input', {type: 'checkbox', checked: state.nodes.has(n.id), 'data-test': 'dialog-node-checkbox', 'data-node': n.id});
          box.addEventListener('change', () => {
            if (box.checked) {
              state.nodes.add(n.id);
            } else {
              state.nodes.delete(n.id);
            }
            renderBenchmarks();
          });
          return h('label', {class: 'check', 'data-name': n.name.toLowerCase()}, box, ' ', n.name,
            n.connected ? null : h('span', {class: 'muted small'}, ' (not connected)'));
        })));
    });
    filter.addEventListener('input', () => {
      const q = filter.value.trim().toLowerCase();
      for (const label of nodeSection.querySelectorAll('label.check')) {
        label.hidden = Boolean(q) && !label.dataset.name.includes(q);
      }
    });
    replace(nodeSection, h('div', {class: 'dialog-section-header'}, h('h3', {}, '1. Nodes'), nodes.length > 8 ? filter : null),
      nodes.length ? groups : h('p', {class: 'muted'}, 'No nodes are enrolled yet.'));
  };

  // Benchmarks valid for the selected nodes' target types.
  const renderBenchmarks = () => {
    const types = selectedTypes();
    for (const id of [...state.benchmarks]) {
      const b = state.catalogue.find((x) => x.id === id);
      if (!b || !types.includes(b.target_type)) {
        state.benchmarks.delete(id);
      }
    }
    const header = h('div', {class: 'dialog-section-header'}, h('h3', {}, '2. Benchmarks'));
    if (types.length === 0) {
      replace(benchSection, header, h('p', {class: 'muted'}, 'Pick at least one node to see the benchmarks that apply to it.'));
    } else {
      replace(benchSection, header, types.map((tt) => {
        const list = state.catalogue.filter((b) => b.target_type === tt);
        return h('div', {class: 'check-group', 'data-target-type': tt},
          h('div', {class: 'check-group-title'}, `${targetLabel(tt)} (${plural(nodesOfType(tt).length, 'node')})`),
          list.length === 0
            ? h('p', {class: 'muted'}, `The catalogue has no benchmark for ${targetLabel(tt)}.`)
            : h('div', {class: 'check-list'}, list.map((b) => {
              const box = h('input', {type: 'checkbox', checked: state.benchmarks.has(b.id), 'data-test': 'dialog-benchmark-checkbox', 'data-benchmark': b.id, 'data-target-type': tt});
              box.addEventListener('change', () => {
                if (box.checked) {
                  state.benchmarks.add(b.id);
                } else {
                  state.benchmarks.delete(b.id);
                }
                renderPreview();
              });
              return h('label', {class: 'check check-benchmark'}, box, ' ',
                h('span', {}, h('strong', {}, (b.short_name || b.id).toUpperCase()), ` ${b.title}`,
                  h('span', {class: 'muted small'}, ` v${b.version} · ${plural(b.control_count, 'control')}`)));
            })));
      }));
    }
    renderPreview();
  };

  // The controls the selected benchmarks will run.
  let previewToken = 0;
  const renderPreview = async () => {
    const token = ++previewToken;
    const ids = state.catalogue.filter((b) => state.benchmarks.has(b.id)).map((b) => b.id);
    const header = h('div', {class: 'dialog-section-header'}, h('h3', {}, '3. Controls to run'));
    if (ids.length === 0) {
      state.preview = new Map();
      replace(previewSection, header, h('p', {class: 'muted'}, 'Pick benchmarks to preview the controls they run.'));
      updateSummary();
      return;
    }
    replace(previewSection, header, loading('Loading the controls…'));
    let lists;
    try {
      lists = await Promise.all(ids.map((id) => api.benchmarkControls(id)));
    } catch (err) {
      if (token === previewToken && !isAbort(err, dialogSignal)) {
        replace(previewSection, header);
        notices.error(err, 'Cannot load the controls');
      }
      return;
    }
    if (token !== previewToken) {
      return;
    }
    const preview = new Map();
    ids.forEach((id, i) => {
      for (const c of lists[i]) {
        if (!preview.has(c.id)) {
          preview.set(c.id, {control: c, benchIds: []});
        }
        preview.get(c.id).benchIds.push(id);
      }
    });
    state.preview = preview;
    for (const id of [...state.excluded]) {
      if (!preview.has(id)) {
        state.excluded.delete(id);
      }
    }
    drawPreview(header, ids, lists);
  };

  const countEl = h('strong', {'data-test': 'control-preview-count'});
  const drawPreview = (header, ids, lists) => {
    const perBench = h('ul', {class: 'inline-list', 'data-test': 'control-preview-benchmarks'}, ids.map((id, i) =>
      h('li', {'data-benchmark': id}, `${benchTitle(id)}: ${plural(lists[i].length, 'control')}`)));
    const rows = [...state.preview.values()].sort((a, b) => a.control.id.localeCompare(b.control.id));
    const tbody = h('tbody');
    let openForm = null;
    for (const {control, benchIds} of rows) {
      const include = h('input', {type: 'checkbox', checked: !state.excluded.has(control.id), 'aria-label': `Run ${control.id}`, 'data-test': 'control-include', 'data-control': control.id});
      include.addEventListener('change', () => {
        if (include.checked) {
          state.excluded.delete(control.id);
        } else {
          state.excluded.add(control.id);
        }
        tr.classList.toggle('excluded', !include.checked);
        updateSummary();
      });
      const targetNodes = nodesOfType(control.target_type);
      const covering = state.masks.filter((m) => m.control_id === control.id && maskCovers(m, targetNodes));
      const maskCell = h('td', {class: 'mask-cell'}, covering.map((m) => h('span', {class: 'chip chip-masked', title: m.reason},
        `masked: ${maskScope(m, nodeName)}`,
        can('analyst') ? unmaskButton(m, {label: '×', onDone: reloadMasks, onError: (err) => notices.error(err, 'Unmask failed'),
          describe: `Unmask ${control.id} on ${maskScope(m, nodeName)}? Its results count in the scores again.`}) : null)));
      const fullyMasked = covering.some((m) => (m.node_ids || []).length === 0 || targetNodes.every((n) => m.node_ids.includes(n)));
      const maskButton = can('analyst') && !fullyMasked
        ? h('button', {type: 'button', class: 'button button-small', 'data-test': 'mask-open', 'data-control': control.id}, 'Mask…')
        : null;
      const tr = h('tr', {class: state.excluded.has(control.id) ? 'excluded' : null, 'data-test': 'control-preview-row', 'data-control': control.id,
        'data-search': `${control.id} ${control.title} ${control.service} ${control.severity}`.toLowerCase()},
      h('td', {class: 'col-check'}, include),
      h('td', {}, h('div', {class: 'mono small'}, control.id), h('div', {}, control.title)),
      h('td', {}, severityBadge(control.severity)),
      h('td', {}, control.service),
      h('td', {class: 'small'}, benchIds.map(benchShort).join(', ')),
      maskCell,
      h('td', {class: 'col-actions'}, maskButton));
      maskButton?.addEventListener('click', () => {
        openForm?.remove();
        const names = targetNodes.map(nodeName);
        const formRow = h('tr', {class: 'form-row'}, h('td', {colspan: 7}, maskForm({
          title: `Mask ${control.id}`,
          scopes: [
            {value: 'selected', label: `on the selected ${plural(targetNodes.length, 'node')} (${names.join(', ')})`},
            {value: 'everywhere', label: 'everywhere (every node, now and later)'},
          ],
          onCancel: () => formRow.remove(),
          onSubmit: async ({reason, scope, expiresAt}) => {
            await api.createMask({controlId: control.id, nodes: scope === 'selected' ? targetNodes : [], reason, expiresAt});
            notices.success(`Masked ${control.id} ${scope === 'selected' ? `on ${names.join(', ')}` : 'everywhere'}.`);
            await reloadMasks();
          },
        })));
        tr.after(formRow);
        openForm = formRow;
      });
      tbody.appendChild(tr);
    }
    const applySearch = () => {
      const q = previewSearch.value.trim().toLowerCase();
      let shown = 0;
      for (const tr of tbody.querySelectorAll('tr[data-test="control-preview-row"]')) {
        tr.hidden = Boolean(q) && !tr.dataset.search.includes(q);
        shown += tr.hidden ? 0 : 1;
      }
      shownEl.textContent = q ? `${shown} shown` : '';
    };
    const shownEl = h('span', {class: 'muted small', 'data-test': 'control-preview-shown'});
    previewSearch.oninput = debounce(applySearch, 100);
    replace(previewSection, header,
      h('div', {class: 'preview-head'},
        h('p', {}, countEl, ' controls will run ', h('span', {class: 'muted'}, '(each control once, even when several benchmarks share it; uncheck one to leave it out)')),
        perBench,
        h('div', {class: 'toolbar'}, previewSearch, shownEl)),
      h('div', {class: 'table-wrap preview-table'}, h('table', {class: 'table table-compact'},
        h('thead', {}, h('tr', {}, h('th', {class: 'col-check'}, 'Run'), h('th', {}, 'Control'), h('th', {}, 'Severity'),
          h('th', {}, 'Service'), h('th', {}, 'Benchmarks'), h('th', {}, 'Masks'), h('th', {}))),
        tbody)));
    applySearch();
    updateSummary();
  };

  const reloadMasks = async () => {
    try {
      state.masks = (await api.listMasks()).masks || [];
    } catch (err) {
      notices.error(err, 'Cannot load the masks');
    }
    renderPreview();
  };

  const benchTitle = (id) => {
    const b = state.catalogue.find((x) => x.id === id);
    return b ? `${(b.short_name || b.id).toUpperCase()} (${targetLabel(b.target_type)})` : id;
  };
  const benchShort = (id) => {
    const b = state.catalogue.find((x) => x.id === id);
    return b ? (b.short_name || b.id).toUpperCase() : id;
  };

  // plan groups the selection into one start request per target type.
  const plan = () => {
    const out = [];
    for (const tt of selectedTypes()) {
      const benchmarks = state.catalogue.filter((b) => b.target_type === tt && state.benchmarks.has(b.id)).map((b) => b.id);
      const controls = [...state.preview.values()].filter((p) => p.benchIds.some((id) => benchmarks.includes(id)));
      const exclude = controls.filter((p) => state.excluded.has(p.control.id)).map((p) => p.control.id);
      out.push({tt, nodes: nodesOfType(tt), benchmarks, exclude, runs: controls.length - exclude.length});
    }
    return out;
  };

  const updateSummary = () => {
    const total = [...state.preview.keys()].filter((id) => !state.excluded.has(id)).length;
    countEl.textContent = String(total);
    const p = plan();
    let problem = '';
    if (state.nodes.size === 0) {
      problem = 'Pick at least one node.';
    } else if (p.some((x) => x.benchmarks.length === 0)) {
      problem = `Pick a benchmark for the ${targetLabel(p.find((x) => x.benchmarks.length === 0).tt)}.`;
    } else if (p.some((x) => x.runs === 0)) {
      problem = `No control is left to run on the ${targetLabel(p.find((x) => x.runs === 0).tt)}.`;
    }
    startButton.disabled = Boolean(problem);
    summary.textContent = problem ||
      `Scan ${plural(state.nodes.size, 'node')} with ${plural(state.benchmarks.size, 'benchmark')} (${plural(total, 'control')}).`;
    summary.classList.toggle('problem', Boolean(problem));
  };

  startButton.addEventListener('click', async () => {
    notices.clear();
    startButton.disabled = true;
    startButton.textContent = 'Starting…';
    const scans = [];
    const failures = [];
    for (const p of plan()) {
      try {
        const res = await api.startScan({nodes: p.nodes, benchmarks: p.benchmarks, excludeControls: p.exclude});
        scans.push(...(res.scans || []));
      } catch (err) {
        failures.push({tt: p.tt, err});
      }
    }
    startButton.textContent = 'Start scan';
    if (scans.length) {
      started = true;
      showProgress(scans);
    } else {
      updateSummary();
    }
    if (failures.length) {
      const f = failures[0];
      notices.error(f.err, `Starting the scan of the ${targetLabel(f.tt)} failed`);
    }
  });

  // showProgress follows the scans started until each has ended.
  const showProgress = (scans) => {
    modal.setTitle('Scan progress');
    const rows = new Map();
    const list = h('div', {class: 'progress-list', 'data-test': 'scan-progress-list'});
    const done = h('p', {class: 'progress-done', 'data-test': 'scan-progress-done', hidden: true});
    for (const s of scans) {
      const row = progressRow(s, notices);
      rows.set(s.id, row);
      list.appendChild(row.el);
    }
    const stopAll = can('analyst')
      ? h('button', {type: 'button', class: 'button button-danger', 'data-test': 'scan-stop-all'}, 'Stop all')
      : null;
    stopAll?.addEventListener('click', async () => {
      stopAll.disabled = true;
      const active = [...rows.values()].filter((r) => !isTerminal(r.scan.state));
      const answers = await Promise.allSettled(active.map((r) => api.stopScan(r.scan.id)));
      answers.forEach((a, i) => {
        if (a.status === 'fulfilled') {
          active[i].update(a.value);
        } else {
          notices.error(a.reason, `Stopping the scan of ${active[i].scan.node_name} failed`);
        }
      });
      stopAll.disabled = false;
    });
    replace(modal.body, notices.el,
      h('p', {}, `Started ${plural(scans.length, 'scan')}. Progress updates every second; you can close this window, the scans carry on.`),
      list, done);
    replace(modal.footer, stopAll,
      h('button', {type: 'button', class: 'button button-primary', 'data-test': 'scan-progress-close', onclick: () => modal.close()}, 'Close'));

    const finish = () => {
      const byState = {};
      for (const r of rows.values()) {
        const st = stateName(r.scan.state);
        byState[st] = (byState[st] || 0) + 1;
      }
      done.textContent = `All scans have ended: ${Object.entries(byState).map(([st, n]) => `${n} ${st.replace('_', ' ')}`).join(', ')}.`;
      done.hidden = false;
      stopAll?.remove();
    };
    (async () => {
      while (!dialogSignal.aborted) {
        const active = [...rows.values()].filter((r) => !isTerminal(r.scan.state));
        if (active.length === 0) {
          finish();
          return;
        }
        try {
          await sleep(POLL_MS, dialogSignal);
        } catch {
          return;
        }
        const answers = await Promise.allSettled(active.map((r) => api.getScan(r.scan.id)));
        answers.forEach((a, i) => {
          if (a.status === 'fulfilled') {
            active[i].update(a.value);
          } else if (!dialogSignal.aborted) {
            notices.error(a.reason, 'Cannot fetch the progress');
          }
        });
      }
    })();
  };

  // Load the catalogue and the masks, then draw.
  renderNodes();
  replace(benchSection, loading('Loading the benchmarks…'));
  Promise.all([api.benchmarks(), api.listMasks()]).then(([catalogue, masks]) => {
    state.catalogue = catalogue;
    state.masks = masks.masks || [];
    renderBenchmarks();
  }).catch((err) => {
    replace(benchSection);
    notices.error(err, 'Cannot load the benchmarks');
  });
  return modal;
}

// progressRow shows one scan's state and progress, with its Stop button.
function progressRow(scan, notices) {
  const bar = h('progress', {class: 'progress', 'data-test': 'scan-progress-bar'});
  const text = h('span', {class: 'progress-text', 'data-test': 'scan-progress-text'});
  const badge = h('span');
  const message = h('div', {class: 'muted small'});
  const stop = can('analyst') ? h('button', {type: 'button', class: 'button button-small button-danger', 'data-test': 'scan-stop', 'data-scan': scan.id}, 'Stop') : null;
  const el = h('div', {class: 'progress-row', 'data-test': 'scan-progress', 'data-scan': scan.id},
    h('div', {class: 'progress-node'}, h('a', {href: href('/scans', scan.id), 'data-test': 'scan-progress-link'}, scan.node_name || scan.node_id), badge),
    bar, text, stop, message);
  const row = {
    el,
    scan,
    update(s) {
      row.scan = s;
      el.dataset.state = stateName(s.state);
      replace(badge, stateBadge(s.state));
      const total = s.controls_total || 0;
      const doneCount = s.controls_done || 0;
      if (total > 0) {
        bar.max = total;
        bar.value = doneCount;
      } else if (!isTerminal(s.state)) {
        bar.removeAttribute('value');
      } else {
        bar.max = 1;
        bar.value = 1;
      }
      text.textContent = total > 0 ? `${doneCount} / ${total} controls` : (isTerminal(s.state) ? '' : 'waiting for the sensor');
      message.textContent = s.message || '';
      if (stop && isTerminal(s.state)) {
        stop.remove();
      }
    },
  };
  stop?.addEventListener('click', async () => {
    stop.disabled = true;
    try {
      row.update(await api.stopScan(scan.id));
    } catch (err) {
      stop.disabled = false;
      notices.error(err, `Stopping the scan of ${scan.node_name} failed`);
    }
  });
  row.update(scan);
  return row;
}
