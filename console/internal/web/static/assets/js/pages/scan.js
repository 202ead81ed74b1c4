// One scan: its state and progress, the score per benchmark, the counts by status, and the
// results with filters, paging and a detail panel where results are masked or unmasked.

import * as api from '../api.js';
import {add, h, replace, sleep, debounce} from '../dom.js';
import {
  STATUSES, SEVERITIES, countsOf, formatTime, formatTimeSeconds, isTerminal, statusName, stateName, toNumber,
} from '../format.js';
import {href, replaceQuery} from '../router.js';
import {can} from '../session.js';
import {
  Drawer, Notices, loading, maskedBadge, pageHeader, scoreText, section, severityBadge, stateBadge,
  statusBadge, isAbort, confirmAction, referencesList,
} from '../ui.js';
import {stackedBar, statusBarChart} from '../charts.js';
import {maskForm, maskScope, maskSummary, unmaskButton} from '../masks.js';

const POLL_MS = 1000;
const PAGE_SIZES = [25, 50, 100, 200];

const MASKED_OPTIONS = [
  {value: 'exclude', label: 'Unmasked results'},
  {value: 'only', label: 'Masked results only'},
  {value: 'include', label: 'All results'},
];

const ORDER_OPTIONS = [
  {value: 'status', label: 'Status (failures first)'},
  {value: 'severity', label: 'Severity (highest first)'},
  {value: 'control', label: 'Control id'},
];

// filtersFromQuery reads the results filters kept in the address.
function filtersFromQuery(q) {
  const statuses = (q.get('status') || '').split(',').map((s) => s.trim()).filter((s) => STATUSES.includes(s));
  const masked = MASKED_OPTIONS.some((o) => o.value === q.get('masked')) ? q.get('masked') : 'exclude';
  const orderBy = ORDER_OPTIONS.some((o) => o.value === q.get('order_by')) ? q.get('order_by') : 'status';
  const size = Number(q.get('page_size'));
  return {
    benchmark: q.get('benchmark') || '',
    statuses,
    service: q.get('service') || '',
    severity: SEVERITIES.includes(q.get('severity')) ? q.get('severity') : '',
    masked,
    q: q.get('q') || '',
    orderBy,
    pageSize: PAGE_SIZES.includes(size) ? size : 50,
  };
}

// render shows the scan page.
export async function render(ctx) {
  const scanId = ctx.params.id;
  const notices = new Notices();
  const head = h('div', {}, loading());
  const progressEl = h('div', {class: 'scan-progress', 'data-test': 'scan-page-progress', hidden: true});
  const scoresEl = h('div', {class: 'score-cards', 'data-test': 'scan-scores'});
  const chartEl = h('div', {class: 'chart-box'});
  const chartTitle = h('h2', {class: 'section-title'}, 'Results by status');
  const resultsEl = h('div');
  add(ctx.el, head, notices.el, progressEl,
    h('div', {class: 'scan-overview'},
      section('Score per benchmark', {'data-test': 'scan-scores-section'}, scoresEl),
      h('section', {class: 'section', 'data-test': 'scan-chart-section'}, chartTitle, chartEl)),
    section('Results', {'data-test': 'scan-results-section'}, resultsEl));

  const filters = filtersFromQuery(ctx.query);
  let tokens = [''];
  let pageIndex = 0;
  let scan = null;
  let benchById = new Map();
  let drawer = null;

  const saveFilters = () => {
    replaceQuery({
      benchmark: filters.benchmark,
      status: filters.statuses.join(','),
      service: filters.service,
      severity: filters.severity,
      masked: filters.masked === 'exclude' ? '' : filters.masked,
      q: filters.q,
      order_by: filters.orderBy === 'status' ? '' : filters.orderBy,
      page_size: filters.pageSize === 50 ? '' : filters.pageSize,
    });
  };

  // Header, meta data and actions.
  const drawHead = () => {
    const actions = [];
    if (can('analyst') && !isTerminal(scan.state)) {
      const stop = h('button', {type: 'button', class: 'button button-danger', 'data-test': 'scan-stop', 'data-scan': scan.id}, 'Stop scan');
      stop.addEventListener('click', async () => {
        const ok = await confirmAction({title: 'Stop scan', message: `Stop the scan of ${scan.node_name}? Results sent so far are kept.`, okLabel: 'Stop scan'});
        if (!ok) {
          return;
        }
        stop.disabled = true;
        try {
          scan = await api.stopScan(scan.id);
          drawHead();
          drawProgress();
        } catch (err) {
          stop.disabled = false;
          notices.error(err, 'Stopping the scan failed');
        }
      });
      actions.push(stop);
    }
    const compareSlot = h('span');
    actions.push(compareSlot);
    findPrevious(scan, compareSlot);
    replace(head,
      pageHeader(`Scan of ${scan.node_name || scan.node_id}`, scan.id, ...actions),
      h('dl', {class: 'facts', 'data-test': 'scan-meta'},
        fact('State', stateBadge(scan.state), 'scan-state'),
        fact('Node', h('a', {href: href('/nodes', scan.node_id)}, scan.node_name || scan.node_id)),
        fact('Benchmarks', h('div', {class: 'chips'}, (scan.benchmark_ids || []).map((id) =>
          h('span', {class: 'chip', title: benchById.get(id)?.title || id}, (benchById.get(id)?.short_name || id).toUpperCase())))),
        fact('Created', `${formatTimeSeconds(scan.created_at)}${scan.created_by ? ` by ${scan.created_by}` : ''}`),
        fact('Started', formatTimeSeconds(scan.started_at) || '—'),
        fact('Finished', formatTimeSeconds(scan.finished_at) || '—'),
        fact('Results stored', String(toNumber(scan.results_stored))),
        scan.message ? fact('Message', scan.message, 'scan-message') : null),
      exportLinks(scan.id));
  };

  const drawProgress = () => {
    if (isTerminal(scan.state)) {
      progressEl.hidden = true;
      return;
    }
    const total = scan.controls_total || 0;
    const done = scan.controls_done || 0;
    const bar = h('progress', {class: 'progress', 'data-test': 'scan-progress-bar'});
    if (total > 0) {
      bar.max = total;
      bar.value = done;
    }
    progressEl.hidden = false;
    replace(progressEl, stateBadge(scan.state), bar,
      h('span', {'data-test': 'scan-progress-text'}, total > 0 ? `${done} / ${total} controls` : 'waiting for the sensor'));
  };

  const benchName = (id) => {
    const b = benchById.get(id);
    return b ? `${(b.short_name || id).toUpperCase()} (${b.title})` : id;
  };

  const drawScores = () => {
    const ids = scan.benchmark_ids?.length ? scan.benchmark_ids : (scan.scores || []).map((s) => s.benchmark_id);
    replace(scoresEl, ids.map((id) => {
      const s = (scan.scores || []).find((x) => x.benchmark_id === id);
      const c = countsOf(s);
      const b = benchById.get(id);
      const card = h('button', {type: 'button', class: ['card', 'score-card', filters.benchmark === id && 'active'], 'data-test': 'score-card', 'data-benchmark': id,
        title: 'Show the results of this benchmark'},
      h('div', {class: 'card-title'}, b ? (b.short_name || id).toUpperCase() : id),
      h('div', {class: 'muted small score-card-sub'}, b ? b.title : ''),
      scoreText(s, {'data-test': `score-${id}`, class: 'big-score'}),
      stackedBar(c),
      h('div', {class: 'small muted'}, `pass ${c.pass} · fail ${c.fail} · info ${c.info} · skip ${c.skip} · error ${c.error} · masked ${c.masked}`));
      card.addEventListener('click', () => {
        filters.benchmark = filters.benchmark === id ? '' : id;
        benchSelect.value = filters.benchmark;
        refilter();
      });
      return card;
    }));
    if (ids.length === 0) {
      add(scoresEl, h('p', {class: 'muted'}, 'This scan has no benchmark scores.'));
    } else if (!isTerminal(scan.state)) {
      add(scoresEl, h('p', {class: 'muted small'}, 'Scores are computed when the scan completes.'));
    }
  };

  // The chart counts the whole scan by status (each result once), or one benchmark's counts
  // when the benchmark filter is set.
  let chartToken = 0;
  const loadChart = async () => {
    const token = ++chartToken;
    if (filters.benchmark) {
      const s = (scan.scores || []).find((x) => x.benchmark_id === filters.benchmark);
      chartTitle.textContent = `Results by status: ${(benchById.get(filters.benchmark)?.short_name || filters.benchmark).toUpperCase()}`;
      replace(chartEl, statusBarChart(countsOf(s)));
      return;
    }
    chartTitle.textContent = 'Results by status: whole scan';
    try {
      const queries = [...STATUSES.map((st) => ({statuses: [st], masked: 'exclude'})), {masked: 'only'}];
      const answers = await Promise.all(queries.map((q) => api.listResults(scanId, {...q, pageSize: 1})));
      if (token !== chartToken) {
        return;
      }
      const counts = {};
      STATUSES.forEach((st, i) => {
        counts[st] = toNumber(answers[i].total);
      });
      counts.masked = toNumber(answers[STATUSES.length].total);
      replace(chartEl, statusBarChart(counts));
    } catch (err) {
      if (!isAbort(err, ctx.signal)) {
        notices.error(err, 'Cannot count the results');
      }
    }
  };

  // Filters.
  const select = (testId, label, options, value, onChange) => {
    const el = h('select', {'data-test': testId, 'aria-label': label}, options.map((o) => h('option', {value: o.value, selected: o.value === value}, o.label)));
    el.addEventListener('change', () => onChange(el.value));
    return el;
  };
  const benchSelect = select('filter-benchmark', 'Benchmark', [{value: '', label: 'All benchmarks'}], filters.benchmark, (v) => {
    filters.benchmark = v;
    refilter();
  });
  const serviceSelect = select('filter-service', 'Service', [{value: '', label: 'All services'}], filters.service, (v) => {
    filters.service = v;
    refilter();
  });
  const statusGroup = h('div', {class: 'status-filter', 'data-test': 'filter-status', role: 'group', 'aria-label': 'Status'},
    STATUSES.map((st) => {
      const box = h('input', {type: 'checkbox', value: st, checked: filters.statuses.includes(st), 'data-status': st, 'data-test': `filter-status-${st}`});
      box.addEventListener('change', () => {
        filters.statuses = STATUSES.filter((x) => statusGroup.querySelector(`input[value="${x}"]`).checked);
        refilter();
      });
      return h('label', {class: `status-toggle status-toggle-${st}`}, box, st);
    }));
  const severitySelect = select('filter-severity', 'Severity', [{value: '', label: 'All severities'}, ...SEVERITIES.map((s) => ({value: s, label: s}))], filters.severity, (v) => {
    filters.severity = v;
    refilter();
  });
  const maskedSelect = select('filter-masked', 'Masked', MASKED_OPTIONS, filters.masked, (v) => {
    filters.masked = v;
    refilter();
  });
  const orderSelect = select('results-sort', 'Sort by', ORDER_OPTIONS, filters.orderBy, (v) => {
    filters.orderBy = v;
    refilter();
  });
  const sizeSelect = select('page-size', 'Results per page', PAGE_SIZES.map((n) => ({value: String(n), label: `${n} per page`})), String(filters.pageSize), (v) => {
    filters.pageSize = Number(v);
    refilter();
  });
  const search = h('input', {type: 'search', class: 'search', placeholder: 'Search control, title, resource, reason', value: filters.q, 'aria-label': 'Search results', 'data-test': 'results-search'});
  search.addEventListener('input', debounce(() => {
    if (filters.q !== search.value.trim()) {
      filters.q = search.value.trim();
      refilter();
    }
  }, 300));
  const resetButton = h('button', {type: 'button', class: 'link-button', 'data-test': 'filters-reset'}, 'Reset filters');
  resetButton.addEventListener('click', () => {
    Object.assign(filters, {benchmark: '', statuses: [], service: '', severity: '', masked: 'exclude', q: ''});
    benchSelect.value = '';
    serviceSelect.value = '';
    severitySelect.value = '';
    maskedSelect.value = 'exclude';
    search.value = '';
    for (const box of statusGroup.querySelectorAll('input')) {
      box.checked = false;
    }
    refilter();
  });
  const refreshButton = h('button', {type: 'button', class: 'button button-small', 'data-test': 'results-refresh', onclick: () => reloadAll()}, 'Refresh');

  const tbody = h('tbody');
  const totalEl = h('span', {'data-test': 'results-total'}, '0');
  const rangeEl = h('span', {class: 'muted', 'data-test': 'results-range'});
  const prevButton = h('button', {type: 'button', class: 'button button-small', 'data-test': 'page-prev', disabled: true}, '← Previous');
  const nextButton = h('button', {type: 'button', class: 'button button-small', 'data-test': 'page-next', disabled: true}, 'Next →');
  prevButton.addEventListener('click', () => {
    if (pageIndex > 0) {
      pageIndex -= 1;
      loadResults();
    }
  });
  nextButton.addEventListener('click', () => {
    if (tokens[pageIndex + 1]) {
      pageIndex += 1;
      loadResults();
    }
  });
  replace(resultsEl,
    h('div', {class: 'filters', 'data-test': 'results-filters'},
      h('div', {class: 'filter-row'}, search, benchSelect, serviceSelect, severitySelect, maskedSelect, orderSelect),
      h('div', {class: 'filter-row'}, h('span', {class: 'field-label'}, 'Status'), statusGroup, resetButton, refreshButton)),
    h('div', {class: 'table-wrap'}, h('table', {class: 'table results-table', 'data-test': 'results-table'},
      h('thead', {}, h('tr', {}, h('th', {}, 'Status'), h('th', {}, 'Severity'), h('th', {}, 'Control'), h('th', {}, 'Service'),
        h('th', {}, 'Resource'), h('th', {}, 'Reason'))),
      tbody)),
    h('div', {class: 'pager'}, h('span', {}, totalEl, ' results '), rangeEl, h('span', {class: 'spacer'}), sizeSelect, prevButton, nextButton));

  const refilter = () => {
    tokens = [''];
    pageIndex = 0;
    saveFilters();
    for (const card of scoresEl.querySelectorAll('.score-card')) {
      card.classList.toggle('active', card.dataset.benchmark === filters.benchmark);
    }
    loadResults();
    loadChart();
  };

  let resultsToken = 0;
  const loadResults = async () => {
    const token = ++resultsToken;
    tbody.classList.add('stale');
    let page;
    try {
      page = await api.listResults(scanId, {...filters, pageToken: tokens[pageIndex]});
    } catch (err) {
      if (token === resultsToken && !isAbort(err, ctx.signal)) {
        tbody.classList.remove('stale');
        notices.error(err, 'Cannot load the results');
      }
      return;
    }
    if (token !== resultsToken) {
      return;
    }
    tbody.classList.remove('stale');
    tokens[pageIndex + 1] = page.next_page_token || '';
    tokens.length = pageIndex + 2;
    const rows = page.results || [];
    const total = toNumber(page.total);
    totalEl.textContent = String(total);
    const first = pageIndex * filters.pageSize;
    rangeEl.textContent = rows.length ? `(showing ${first + 1}–${first + rows.length})` : '';
    prevButton.disabled = pageIndex === 0;
    nextButton.disabled = !page.next_page_token;
    if (rows.length === 0) {
      const filtered = filters.benchmark || filters.statuses.length || filters.service || filters.severity || filters.masked !== 'exclude' || filters.q;
      let text = 'This scan has no results.';
      if (!isTerminal(scan.state)) {
        text = 'No results yet: they appear as the sensor sends them. Refresh to see the latest.';
      } else if (filtered) {
        text = 'No result matches these filters.';
      } else if (filters.masked === 'exclude') {
        text = 'No unmasked results.';
      }
      replace(tbody, h('tr', {class: 'empty-row'}, h('td', {colspan: 6, 'data-test': 'results-empty'}, text)));
      return;
    }
    replace(tbody, rows.map((r) => resultRow(r, () => openDetail(r))));
  };

  // Detail panel of one result.
  const openDetail = (r) => {
    drawer?.close();
    drawer = new Drawer({testId: 'result-detail', title: r.title || r.control_id, onClose: () => {
      drawer = null;
    }});
    drawer.show(ctx.el);
    const afterMaskChange = async (message) => {
      drawer?.close();
      notices.success(message);
      await reloadAll();
    };
    fillDetail(drawer, r, scan, {benchById, notices: new Notices(), onMaskChange: afterMaskChange, signal: ctx.signal});
  };

  const reloadAll = async () => {
    try {
      scan = await api.getScan(scanId);
    } catch (err) {
      notices.error(err, 'Cannot load the scan');
      return;
    }
    drawHead();
    drawProgress();
    drawScores();
    loadChart();
    loadResults();
  };

  // First load.
  try {
    const [s, catalogue] = await Promise.all([api.getScan(scanId), api.benchmarks()]);
    scan = s;
    benchById = new Map(catalogue.map((b) => [b.id, b]));
  } catch (err) {
    if (!isAbort(err, ctx.signal)) {
      replace(ctx.el, pageHeader('Scan', scanId), notices.el);
      notices.error(err, err.status === 404 ? 'No such scan' : 'Cannot load the scan');
    }
    return;
  }
  for (const id of scan.benchmark_ids || []) {
    add(benchSelect, h('option', {value: id, selected: id === filters.benchmark}, benchName(id)));
  }
  drawHead();
  drawProgress();
  drawScores();
  loadChart();
  loadResults();
  loadServices(scan, serviceSelect, filters.service);

  // Follow a running scan; refresh everything once it ends.
  while (!isTerminal(scan.state)) {
    const before = scan.state;
    try {
      await sleep(POLL_MS, ctx.signal);
      scan = await api.getScan(scanId);
    } catch (err) {
      if (isAbort(err, ctx.signal)) {
        return;
      }
      notices.error(err, 'Cannot fetch the progress');
      continue;
    }
    if (isTerminal(scan.state)) {
      await reloadAll();
    } else {
      drawProgress();
      if (scan.state !== before) {
        drawHead();
      }
    }
  }
}

// fact is one term of a definition list.
function fact(term, value, testId) {
  return h('div', {class: 'fact'}, h('dt', {}, term), h('dd', {'data-test': testId}, value));
}

// exportLinks are the downloads of a scan.
function exportLinks(scanId) {
  const link = (format, label, download) => h('a', {
    href: api.exportUrl(scanId, format), class: 'button button-small', 'data-test': `export-${format}`,
    download: download ? `palisade-${scanId}.${download}` : null, target: download ? null : '_blank', rel: 'noopener',
  }, label);
  return h('div', {class: 'exports', 'data-test': 'exports'},
    h('span', {class: 'field-label'}, 'Download'),
    link('csv', 'CSV', 'csv'), link('json', 'JSON', 'json'), link('sarif', 'SARIF', 'sarif'),
    link('html', 'Printable report', ''));
}

// findPrevious fills slot with a link comparing the scan with the node's previous completed
// scan, when there is one.
async function findPrevious(scan, slot) {
  if (!isTerminal(scan.state)) {
    return;
  }
  try {
    const page = await api.listScans({node: scan.node_id, pageSize: 100});
    const list = page.scans || [];
    const i = list.findIndex((s) => s.id === scan.id);
    const prev = list.slice(i + 1).find((s) => stateName(s.state) === 'complete');
    if (i >= 0 && prev) {
      replace(slot, h('a', {href: href('/compare', {base: prev.id, head: scan.id}), class: 'button', 'data-test': 'compare-previous'},
        `Compare with ${formatTime(prev.created_at)}`));
    }
  } catch {
    // The link is a convenience; the node page offers the same comparison.
  }
}

// loadServices fills the service filter with the services of the scan's controls; the filter
// keeps only "All services" when they cannot be loaded.
async function loadServices(scan, selectEl, current) {
  try {
    const lists = await Promise.all((scan.benchmark_ids || []).map((id) => api.benchmarkControls(id)));
    const services = [...new Set(lists.flat().map((c) => c.service).filter(Boolean))].sort();
    if (current && !services.includes(current)) {
      services.push(current);
    }
    for (const s of services) {
      add(selectEl, h('option', {value: s, selected: s === current}, s));
    }
  } catch {
    // Filtering by service stays possible through the address (?service=).
  }
}

// resultRow is one line of the results table.
function resultRow(r, onOpen) {
  const status = statusName(r.status);
  const tr = h('tr', {
    class: ['clickable', r.mask && 'masked'], tabindex: 0, 'data-test': 'result-row', 'data-control': r.control_id,
    'data-resource': r.resource, 'data-status': status, 'data-masked': r.mask ? 'true' : 'false',
  },
  h('td', {}, statusBadge(r.status), r.mask ? [' ', maskedBadge()] : null),
  h('td', {}, severityBadge(r.severity)),
  h('td', {}, h('div', {class: 'mono small'}, r.control_id), h('div', {}, r.title)),
  h('td', {}, r.service),
  h('td', {class: 'mono small wrap-anywhere'}, r.resource),
  h('td', {class: 'reason'}, r.reason));
  tr.addEventListener('click', onOpen);
  tr.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      onOpen();
    }
  });
  return tr;
}

// fillDetail draws a result's detail into the drawer: what it is about, the evidence, the
// mask, the control's text, its references and its history on the node.
async function fillDetail(drawer, r, scan, {benchById, notices, onMaskChange, signal}) {
  const body = drawer.body;
  const nodeName = scan.node_name || r.node_id;
  const controlEl = h('div', {}, loading('Loading the control…'));
  const historyEl = h('div', {'data-test': 'detail-history'}, loading('Loading the history…'));
  add(body, notices.el,
    h('div', {class: 'detail-head'},
      statusBadge(r.status), r.mask ? [' ', maskedBadge()] : null, ' ', severityBadge(r.severity),
      h('span', {class: 'muted'}, ` ${r.service}`)),
    h('dl', {class: 'facts facts-stacked'},
      fact('Control', h('span', {class: 'mono'}, r.control_id), 'detail-control'),
      fact('Resource', h('span', {class: 'mono wrap-anywhere'}, r.resource), 'detail-resource'),
      fact('Node', nodeName),
      fact('Reason', r.reason || '—', 'detail-reason')),
    h('h3', {}, 'Evidence'),
    evidenceTable(r.evidence || []),
    h('h3', {}, 'Mask'),
    maskBlock(r, nodeName, notices, onMaskChange),
    controlEl,
    h('h3', {}, `History on ${nodeName}`),
    historyEl);

  api.getControl(r.control_id).then((c) => {
    replace(controlEl,
      textBlock('Description', c.description, 'detail-description'),
      textBlock('Rationale', c.rationale, 'detail-rationale'),
      textBlock('Remediation', c.remediation, 'detail-remediation', true),
      h('h3', {}, 'References'),
      referencesList(c.references || [], benchById));
  }).catch((err) => {
    if (!isAbort(err, signal)) {
      replace(controlEl, h('p', {class: 'muted'}, `The control's description could not be loaded: ${err.message}`));
    }
  });

  api.controlHistory(r.node_id, r.control_id, 20).then((res) => {
    const entries = (res.entries || []).filter((e) => e.resource === r.resource);
    if (entries.length === 0) {
      replace(historyEl, h('p', {class: 'muted'}, 'No earlier result of this control on this resource.'));
      return;
    }
    replace(historyEl, h('table', {class: 'table table-compact'},
      h('thead', {}, h('tr', {}, h('th', {}, 'Scan'), h('th', {}, 'State'), h('th', {}, 'Status'), h('th', {}, 'Reason'))),
      h('tbody', {}, entries.map((e) => h('tr', {class: e.scan_id === scan.id ? 'current' : null, 'data-test': 'history-row', 'data-scan': e.scan_id},
        h('td', {}, e.scan_id === scan.id ? h('strong', {}, `${formatTime(e.scan_created_at)} (this scan)`)
          : h('a', {href: href('/scans', e.scan_id)}, formatTime(e.scan_created_at))),
        h('td', {}, stateBadge(e.scan_state)),
        h('td', {}, statusBadge(e.status)),
        h('td', {class: 'reason'}, e.reason))))));
  }).catch((err) => {
    if (!isAbort(err, signal)) {
      replace(historyEl, h('p', {class: 'muted'}, `The history could not be loaded: ${err.message}`));
    }
  });
}

// maskBlock shows the result's mask with an Unmask button, or the form that masks it.
function maskBlock(r, nodeName, notices, onMaskChange) {
  const names = (id) => (id === r.node_id ? nodeName : id);
  if (r.mask) {
    const m = r.mask;
    const wide = !m.resource;
    return h('div', {class: 'mask-block', 'data-test': 'detail-mask'},
      maskSummary(m, names),
      can('analyst') ? unmaskButton(m, {
        small: false,
        describe: wide
          ? `This mask covers ${m.control_id} on ${maskScope(m, names)}, not only this result. Unmask it? Every result it covers counts in the scores again.`
          : `Unmask this result? It counts in the scores again.`,
        onDone: () => onMaskChange(`Unmasked ${m.control_id} on ${maskScope(m, names)}; the scores have been recounted.`),
        onError: (err) => notices.error(err, 'Unmask failed'),
      }) : null);
  }
  if (!can('analyst')) {
    return h('p', {class: 'muted', 'data-test': 'detail-mask'}, 'Not masked.');
  }
  const open = h('button', {type: 'button', class: 'button', 'data-test': 'mask-open'}, 'Mask this result…');
  const block = h('div', {class: 'mask-block', 'data-test': 'detail-mask'}, h('p', {class: 'muted'}, 'Not masked.'), open);
  open.addEventListener('click', () => {
    replace(block, maskForm({
      title: `Mask ${r.control_id}`,
      scopes: [
        {value: 'result', label: `this result only (${r.resource} on ${nodeName})`},
        {value: 'node', label: `this control on ${nodeName} (every resource)`},
        {value: 'everywhere', label: 'this control everywhere (every node, now and later)'},
      ],
      onCancel: () => replace(block, h('p', {class: 'muted'}, 'Not masked.'), open),
      onSubmit: async ({reason, scope, expiresAt}) => {
        await api.createMask({
          controlId: r.control_id,
          nodes: scope === 'everywhere' ? [] : [r.node_id],
          resource: scope === 'result' ? r.resource : '',
          reason,
          expiresAt,
        });
        const where = {result: `${r.resource} on ${nodeName}`, node: nodeName, everywhere: 'every node'}[scope];
        await onMaskChange(`Masked ${r.control_id} on ${where}; the scores have been recounted.`);
      },
    }));
  });
  return block;
}

// evidenceTable lists what was read: source:line, key, actual and expected values.
function evidenceTable(evidence) {
  if (evidence.length === 0) {
    return h('p', {class: 'muted', 'data-test': 'detail-evidence'}, 'No structured evidence for this result.');
  }
  return h('table', {class: 'table table-compact evidence', 'data-test': 'detail-evidence'},
    h('thead', {}, h('tr', {}, h('th', {}, 'Source'), h('th', {}, 'Key'), h('th', {}, 'Actual'), h('th', {}, 'Expected'))),
    h('tbody', {}, evidence.map((e) => h('tr', {'data-test': 'evidence-row'},
      h('td', {class: 'mono small wrap-anywhere'}, e.line ? `${e.source}:${e.line}` : e.source),
      h('td', {class: 'mono small'}, e.key),
      h('td', {class: 'mono small wrap-anywhere actual'}, e.actual),
      h('td', {class: 'mono small wrap-anywhere expected'}, e.expected)))));
}

// textBlock is a titled paragraph of control text; pre keeps line breaks (remediation).
function textBlock(title, text, testId, pre = false) {
  return h('div', {class: 'text-block'}, h('h3', {}, title),
    text ? h(pre ? 'pre' : 'p', {class: pre ? 'remediation' : null, 'data-test': testId}, text.trim())
      : h('p', {class: 'muted', 'data-test': testId}, '—'));
}
