// The catalogue: the benchmarks of each target type and their controls with severity,
// service and the framework requirements they test; a control's detail opens on click.

import * as api from '../api.js';
import {add, h, replace, debounce} from '../dom.js';
import {TARGET_TYPES, targetLabel, severityRank, plural} from '../format.js';
import {replaceQuery} from '../router.js';
import {Drawer, Notices, SortableTable, emptyState, loading, pageHeader, severityBadge, isAbort, referencesList} from '../ui.js';

// render shows the catalogue page.
export async function render(ctx) {
  const notices = new Notices();
  const tabs = h('div', {class: 'tabs', role: 'tablist', 'data-test': 'catalogue-types'});
  const benchSelect = h('select', {'data-test': 'catalogue-benchmark', 'aria-label': 'Benchmark'});
  const search = h('input', {type: 'search', class: 'search', placeholder: 'Search id, title, service, requirement', value: ctx.query.get('q') || '',
    'aria-label': 'Search the catalogue', 'data-test': 'catalogue-search'});
  const viewControls = h('button', {type: 'button', class: 'seg active', 'data-test': 'catalogue-view-controls'}, 'Controls');
  const viewRequirements = h('button', {type: 'button', class: 'seg', 'data-test': 'catalogue-view-requirements'}, 'Requirements');
  const info = h('div', {class: 'bench-info', 'data-test': 'catalogue-benchmark-info'});
  const count = h('span', {class: 'muted', 'data-test': 'catalogue-count'});
  const body = h('div', {}, loading());
  add(ctx.el, pageHeader('Catalogue', 'Benchmarks and the controls that test them'), notices.el, tabs,
    h('div', {class: 'toolbar'}, benchSelect, search, h('div', {class: 'segmented'}, viewControls, viewRequirements), count),
    info, body);

  let all;
  try {
    all = await api.benchmarks();
  } catch (err) {
    if (!isAbort(err, ctx.signal)) {
      replace(body);
      notices.error(err, 'Cannot load the catalogue');
    }
    return;
  }
  const benchById = new Map(all.map((b) => [b.id, b]));
  let targetType = TARGET_TYPES.includes(ctx.query.get('target_type')) ? ctx.query.get('target_type')
    : (TARGET_TYPES.find((tt) => all.some((b) => b.target_type === tt)) || 'linux');
  let benchmark = ctx.query.get('benchmark') || '';
  let view = ctx.query.get('view') === 'requirements' ? 'requirements' : 'controls';
  let controls = [];
  let table = null;
  let drawer = null;

  const save = () => replaceQuery({target_type: targetType, benchmark, q: search.value.trim(), view: view === 'controls' ? '' : view});

  const drawTabs = () => {
    replace(tabs, TARGET_TYPES.map((tt) => {
      const n = all.filter((b) => b.target_type === tt).length;
      const tab = h('button', {type: 'button', role: 'tab', class: ['tab', tt === targetType && 'active'], 'aria-selected': tt === targetType ? 'true' : 'false',
        'data-test': 'catalogue-type', 'data-target-type': tt}, targetLabel(tt), h('span', {class: 'count'}, String(n)));
      tab.addEventListener('click', () => {
        targetType = tt;
        benchmark = '';
        load();
      });
      return tab;
    }));
  };

  const drawBenchSelect = () => {
    const list = all.filter((b) => b.target_type === targetType);
    if (!list.some((b) => b.id === benchmark)) {
      benchmark = '';
    }
    replace(benchSelect, h('option', {value: ''}, `All controls for ${targetLabel(targetType)}`),
      list.map((b) => h('option', {value: b.id, selected: b.id === benchmark}, `${(b.short_name || b.id).toUpperCase()}: ${b.title}`)));
    const b = benchById.get(benchmark);
    viewRequirements.disabled = !b;
    if (!b) {
      view = 'controls';
    }
    viewControls.classList.toggle('active', view === 'controls');
    viewRequirements.classList.toggle('active', view === 'requirements');
    replace(info, b ? h('div', {class: 'card bench-card'},
      h('div', {class: 'card-title'}, b.title),
      h('div', {class: 'muted'}, `${b.framework} · version ${b.version} · ${plural(b.control_count, 'control')} · ${plural((b.requirements || []).length, 'requirement')} · id ${b.id}`))
      : null);
  };

  const openControl = async (id) => {
    drawer?.close();
    drawer = new Drawer({testId: 'control-detail', title: id, onClose: () => {
      drawer = null;
    }});
    drawer.show(ctx.el);
    add(drawer.body, loading());
    try {
      const c = await api.getControl(id);
      drawer?.setTitle(c.title);
      replace(drawer.body,
        h('div', {class: 'detail-head'}, severityBadge(c.severity), h('span', {class: 'muted'}, ` ${c.service} · ${targetLabel(c.target_type)}`)),
        h('p', {class: 'mono small', 'data-test': 'control-detail-id'}, c.id),
        h('h3', {}, 'Description'), h('p', {'data-test': 'detail-description'}, c.description || '—'),
        h('h3', {}, 'Rationale'), h('p', {'data-test': 'detail-rationale'}, c.rationale || '—'),
        h('h3', {}, 'Remediation'), h('pre', {class: 'remediation', 'data-test': 'detail-remediation'}, (c.remediation || '—').trim()),
        h('h3', {}, 'References'), referencesList(c.references || [], benchById));
    } catch (err) {
      if (drawer && !isAbort(err, ctx.signal)) {
        replace(drawer.body, h('p', {class: 'muted'}, `The control could not be loaded: ${err.message}`));
      }
    }
  };

  // frameworks are the distinct "framework requirement" labels of a control.
  const frameworks = (c) => {
    const seen = new Map();
    for (const ref of c.references || []) {
      const b = benchById.get(ref.benchmark_id);
      const text = `${b?.framework || ref.benchmark_id} ${ref.requirement_id}`;
      if (!seen.has(text)) {
        seen.set(text, []);
      }
      seen.get(text).push(ref.benchmark_id);
    }
    return [...seen.entries()];
  };

  const matches = (c, q) => !q || [c.id, c.title, c.service, c.severity, ...frameworks(c).map(([t]) => t)].some((x) => (x || '').toLowerCase().includes(q));

  const drawControls = () => {
    const q = search.value.trim().toLowerCase();
    const rows = controls.filter((c) => matches(c, q));
    count.textContent = `${plural(rows.length, 'control')}${q ? ` of ${controls.length}` : ''}`;
    if (view === 'requirements') {
      drawRequirements(q);
      return;
    }
    if (!table) {
      table = new SortableTable({
        columns: [
          {label: 'Control', sort: (c) => c.id, render: (c) => h('div', {}, h('div', {class: 'mono small'}, c.id), h('div', {}, c.title))},
          {label: 'Severity', sort: (c) => severityRank(c.severity), render: (c) => severityBadge(c.severity)},
          {label: 'Service', sort: (c) => c.service.toLowerCase(), render: (c) => c.service},
          {label: 'Frameworks', render: (c) => h('div', {class: 'chips'}, frameworks(c).map(([text, ids]) => h('span', {class: 'chip', title: ids.join(', ')}, text)))},
        ],
        sortKey: 0,
        testId: 'catalogue-table',
        rowAttrs: (c) => ({'data-test': 'catalogue-row', 'data-control': c.id}),
        empty: 'No control matches.',
        onRowClick: (c) => openControl(c.id),
      });
    }
    table.setRows(rows);
    replace(body, table.el);
  };

  const drawRequirements = (q) => {
    const b = benchById.get(benchmark);
    const reqs = (b?.requirements || []).filter((r) => !q || r.id.toLowerCase().includes(q) || (r.title || '').toLowerCase().includes(q)
      || r.control_ids.some((id) => id.toLowerCase().includes(q)));
    count.textContent = `${plural(reqs.length, 'requirement')}`;
    replace(body, reqs.length === 0 ? emptyState('catalogue-empty', h('p', {}, 'No requirement matches.'))
      : h('div', {class: 'table-wrap'}, h('table', {class: 'table', 'data-test': 'requirements-table'},
        h('thead', {}, h('tr', {}, h('th', {}, 'Requirement'), h('th', {}, 'Title'), h('th', {}, 'Controls'))),
        h('tbody', {}, reqs.map((r) => h('tr', {'data-test': 'requirement-row', 'data-requirement': r.id},
          h('td', {class: 'mono'}, r.id),
          h('td', {}, r.title),
          h('td', {}, h('div', {class: 'chips'}, r.control_ids.map((id) => h('button', {type: 'button', class: 'chip chip-link mono', onclick: () => openControl(id)}, id))))))))));
  };

  const load = async () => {
    drawTabs();
    drawBenchSelect();
    save();
    table = null;
    replace(body, loading());
    try {
      const res = await api.listControls(benchmark ? {benchmark} : {targetType});
      controls = (res.controls || []).filter((c) => !c.target_type || c.target_type === targetType);
    } catch (err) {
      if (!isAbort(err, ctx.signal)) {
        replace(body);
        notices.error(err, 'Cannot load the controls');
      }
      return;
    }
    if (controls.length === 0) {
      count.textContent = '';
      replace(body, emptyState('catalogue-empty', h('p', {}, `The catalogue has no controls for ${targetLabel(targetType)} yet. Operators can add their own with --catalog-dir.`)));
      return;
    }
    drawControls();
  };

  benchSelect.addEventListener('change', () => {
    benchmark = benchSelect.value;
    load();
  });
  search.addEventListener('input', debounce(() => {
    save();
    drawControls();
  }, 150));
  viewControls.addEventListener('click', () => {
    view = 'controls';
    viewControls.classList.add('active');
    viewRequirements.classList.remove('active');
    save();
    drawControls();
  });
  viewRequirements.addEventListener('click', () => {
    view = 'requirements';
    viewRequirements.classList.add('active');
    viewControls.classList.remove('active');
    save();
    drawControls();
  });
  await load();
}
