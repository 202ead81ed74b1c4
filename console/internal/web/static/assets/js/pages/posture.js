// Posture: one card per target type with the aggregate score, then per type a table of its
// nodes with their latest scores, from which scans are started.

import * as api from '../api.js';
import {add, h, replace, debounce} from '../dom.js';
import {
  TARGET_TYPES, targetLabel, targetSingular, formatScore, hasScore, countsOf, formatTime, relativeTime,
  parseTime, plural, stateName, STATUSES,
} from '../format.js';
import {href} from '../router.js';
import {can} from '../session.js';
import {Notices, SortableTable, emptyState, loading, pageHeader, scoreText, stateBadge, isAbort} from '../ui.js';
import {stackedBar} from '../charts.js';
import {openScanDialog} from './scandialog.js';

// ENROL_HINT says how nodes of each target type join the console.
const ENROL_HINT = {
  linux: 'Install the sensor on each host and enrol it with an enrolment token (systemd unit).',
  kubernetes: 'Deploy the sensor as a DaemonSet with an enrolment token; every node enrols itself.',
  aws: 'Run the cloud connector for the account with an enrolment token.',
  azure: 'Run the cloud connector for the subscription with an enrolment token.',
  gcp: 'Run the cloud connector for the project with an enrolment token.',
};

// render shows the posture page.
export async function render(ctx) {
  const notices = new Notices();
  const selection = new Set();
  const search = h('input', {type: 'search', class: 'search', placeholder: 'Search nodes', 'aria-label': 'Search nodes', 'data-test': 'posture-search'});
  const startButton = can('analyst')
    ? h('button', {type: 'button', class: 'button button-primary', 'data-test': 'start-scan'}, 'Start scan…')
    : null;
  const cards = h('div', {class: 'cards', 'data-test': 'posture-cards'});
  const tables = h('div', {class: 'posture-tables'}, loading());
  add(ctx.el, 
    pageHeader('Posture', 'Latest completed score of every node, per benchmark', search, startButton),
    notices.el, cards, tables);

  let nodes = [];
  const typeTables = [];

  const updateStartButton = () => {
    if (startButton) {
      startButton.textContent = selection.size ? `Scan ${plural(selection.size, 'node')}…` : 'Start scan…';
    }
  };

  const load = async () => {
    let posture;
    let nodeList;
    let benchmarks;
    try {
      [posture, nodeList, benchmarks] = await Promise.all([api.getPosture(), api.listNodes(), api.benchmarks()]);
    } catch (err) {
      if (!isAbort(err, ctx.signal)) {
        replace(tables);
        notices.error(err, 'Cannot load the posture');
      }
      return;
    }
    nodes = mergeNodes(posture.nodes || [], nodeList.nodes || []);
    for (const id of [...selection]) {
      if (!nodes.some((n) => n.id === id)) {
        selection.delete(id);
      }
    }
    updateStartButton();
    if (startButton) {
      startButton.disabled = nodes.length === 0;
    }
    const benchById = new Map(benchmarks.map((b) => [b.id, b]));
    const targets = new Map((posture.targets || []).map((t) => [t.target_type, t]));
    replace(cards, TARGET_TYPES.map((tt) => postureCard(tt, targets.get(tt), benchById, () => {
      document.getElementById(`nodes-${tt}`)?.scrollIntoView({behavior: 'smooth', block: 'start'});
    })));
    typeTables.length = 0;
    const sections = [];
    if (nodes.length === 0) {
      sections.push(emptyState('empty-no-sensors',
        can('admin')
          ? h('p', {}, 'No sensors yet: ', h('a', {href: '#/tokens', 'data-test': 'empty-create-token'}, 'create an enrolment token'),
            ', then run the sensor on your hosts with the command it shows.')
          : h('p', {}, 'No sensors yet: ask an administrator to create an enrolment token and install the sensor on your hosts.')));
    }
    const types = [...TARGET_TYPES, ...new Set(nodes.map((n) => n.target_type).filter((t) => !TARGET_TYPES.includes(t)))];
    for (const tt of types) {
      const rows = nodes.filter((n) => n.target_type === tt);
      if (rows.length === 0) {
        continue;
      }
      const table = nodeTable(tt, rows, benchmarks, benchById, selection, updateStartButton);
      typeTables.push(table);
      sections.push(h('section', {class: 'section', id: `nodes-${tt}`, 'data-test': 'posture-section', 'data-target-type': tt},
        h('h2', {class: 'section-title'}, targetLabel(tt), h('span', {class: 'count'}, String(rows.length))),
        table.el));
    }
    replace(tables, sections);
    applySearch();
  };

  const applySearch = () => {
    const q = search.value.trim().toLowerCase();
    for (const t of typeTables) {
      t.filter(q);
    }
  };
  search.addEventListener('input', debounce(applySearch, 150));

  startButton?.addEventListener('click', () => {
    openScanDialog({
      nodes,
      selected: [...selection],
      signal: ctx.signal,
      onClose: (started) => {
        if (started) {
          load();
        }
      },
    });
  });

  await load();
}

// mergeNodes joins the posture of each node with its connection state from the node list.
function mergeNodes(postureNodes, listed) {
  const byId = new Map(listed.map((n) => [n.id, n]));
  const out = postureNodes.map((p) => {
    const n = byId.get(p.node_id);
    return {
      id: p.node_id,
      name: p.node_name || n?.name || p.node_id,
      target_type: p.target_type || n?.target_type,
      scores: p.scores || [],
      last_scan_at: p.last_scan_at,
      last_scan_id: p.last_scan_id,
      last_scan_state: p.last_scan_state,
      last_scan_created_at: p.last_scan_created_at,
      connected: Boolean(n?.connected),
      last_seen_at: n?.last_seen_at,
    };
  });
  for (const n of listed) {
    if (!out.some((o) => o.id === n.id)) {
      out.push({id: n.id, name: n.name, target_type: n.target_type, scores: [], connected: n.connected, last_seen_at: n.last_seen_at});
    }
  }
  return out;
}

// postureCard is the summary of one target type.
function postureCard(tt, target, benchById, onShow) {
  const count = target?.nodes || 0;
  const scanned = target?.scanned_nodes || 0;
  const card = h('article', {class: 'card posture-card', 'data-test': 'posture-card', 'data-target-type': tt},
    h('header', {class: 'card-header'}, h('h3', {class: 'card-title'}, targetLabel(tt)),
      h('div', {class: 'muted small', 'data-test': 'posture-node-count'}, count ? `${plural(count, 'node')}, ${scanned} scanned` : 'no nodes')));
  if (count === 0) {
    card.classList.add('card-empty');
    add(card, h('p', {class: 'card-empty-text', 'data-test': 'posture-empty'}, `No ${targetLabel(tt)} yet. ${ENROL_HINT[tt] || ''}`),
      can('admin') ? h('a', {href: '#/tokens', class: 'card-link'}, 'Create an enrolment token') : null);
    return card;
  }
  const overall = target?.overall;
  const counts = countsOf(overall);
  add(card, 
    h('div', {class: 'card-score'},
      scoreText(overall, {'data-test': 'posture-score', class: 'big-score'}),
      h('span', {class: 'muted'}, scanned === 0 ? 'not scanned yet' : 'overall')),
    stackedBar(counts, {testId: 'posture-bar'}),
    h('ul', {class: 'status-counts'}, [...STATUSES, 'masked'].map((s) =>
      h('li', {class: `count-${s}`, 'data-test': `posture-count-${s}`, 'data-count': counts[s]},
        h('span', {class: `dot fill-${s}`, 'aria-hidden': 'true'}), `${s} `, h('strong', {}, String(counts[s]))))),
    (target?.scores || []).length
      ? h('ul', {class: 'benchmark-scores'}, target.scores.map((s) => h('li', {'data-test': 'posture-benchmark-score', 'data-benchmark': s.benchmark_id},
        h('span', {title: benchById.get(s.benchmark_id)?.title || s.benchmark_id}, benchLabel(benchById, s.benchmark_id)), scoreText(s))))
      : null,
    h('button', {type: 'button', class: 'link-button card-link', onclick: onShow}, `Show ${targetLabel(tt)}`));
  return card;
}

// benchLabel is a benchmark's short column label, e.g. "CIS" or "PCI-DSS".
export function benchLabel(benchById, id) {
  const b = benchById.get(id);
  return b ? (b.short_name || b.id).toUpperCase() : id;
}

// nodeTable is the table of one target type's nodes. It returns {el, filter(q)}.
function nodeTable(tt, rows, benchmarks, benchById, selection, onSelect) {
  // A column per benchmark any node of this type has a score for, in catalogue order.
  const scored = new Set(rows.flatMap((n) => n.scores.map((s) => s.benchmark_id)));
  const benchIds = [...benchmarks.filter((b) => scored.has(b.id)).map((b) => b.id), ...[...scored].filter((id) => !benchById.has(id))];
  const selectable = can('analyst');
  let visible = rows;

  const selectAll = selectable ? h('input', {type: 'checkbox', 'aria-label': `Select every ${targetSingular(tt)}`, 'data-test': `select-all-${tt}`}) : null;
  const syncSelectAll = () => {
    if (!selectAll) {
      return;
    }
    const n = visible.filter((r) => selection.has(r.id)).length;
    selectAll.checked = n > 0 && n === visible.length;
    selectAll.indeterminate = n > 0 && n < visible.length;
  };
  selectAll?.addEventListener('change', () => {
    for (const r of visible) {
      if (selectAll.checked) {
        selection.add(r.id);
      } else {
        selection.delete(r.id);
      }
    }
    table.draw();
    onSelect();
  });

  const columns = [];
  if (selectable) {
    columns.push({
      label: '', class: 'col-check', header: () => selectAll,
      render: (n) => {
        const box = h('input', {type: 'checkbox', checked: selection.has(n.id), 'aria-label': `Select ${n.name}`, 'data-test': 'node-checkbox', 'data-node': n.id});
        box.addEventListener('change', () => {
          if (box.checked) {
            selection.add(n.id);
          } else {
            selection.delete(n.id);
          }
          box.closest('tr')?.classList.toggle('selected', box.checked);
          syncSelectAll();
          onSelect();
        });
        return box;
      },
    });
  }
  columns.push(
    {
      label: 'Node', testId: 'sort-name', sort: (n) => n.name.toLowerCase(),
      render: (n) => h('div', {class: 'node-cell'},
        h('span', {class: ['conn', n.connected ? 'conn-on' : 'conn-off'], title: n.connected ? 'connected' : `not connected${n.last_seen_at ? `; last seen ${formatTime(n.last_seen_at)}` : ''}`}),
        h('a', {href: href('/nodes', n.id), 'data-test': 'node-link'}, n.name)),
    },
    {
      label: 'Last scan', testId: 'sort-last-scan', sort: (n) => parseTime(n.last_scan_at)?.getTime() ?? null,
      render: (n) => lastScanCell(n),
    },
    {
      label: 'Latest scan', testId: 'sort-state', sort: (n) => stateName(n.last_scan_state) || null,
      render: (n) => (n.last_scan_id
        ? h('a', {href: href('/scans', n.last_scan_id), class: 'state-link', title: `started ${formatTime(n.last_scan_created_at)}`}, stateBadge(n.last_scan_state))
        : h('span', {class: 'muted'}, '—')),
    },
  );
  for (const id of benchIds) {
    columns.push({
      label: benchLabel(benchById, id), title: benchById.get(id)?.title || id, class: 'num', testId: `sort-${id}`,
      sort: (n) => {
        const s = n.scores.find((x) => x.benchmark_id === id);
        return hasScore(s) ? s.score : null;
      },
      render: (n) => {
        const s = n.scores.find((x) => x.benchmark_id === id);
        return scoreText(s, {'data-test': 'node-score', 'data-benchmark': id, title: s ? scoreTitle(s) : 'no score for this benchmark'});
      },
    });
  }
  if (benchIds.length === 0) {
    columns.push({label: 'Scores', class: 'num', render: (n) => h('span', {class: 'muted', 'data-test': 'node-score'}, n.last_scan_at ? 'n/a' : 'never scanned')});
  }

  const table = new SortableTable({
    columns, rows, sortKey: selectable ? 1 : 0, testId: `posture-table-${tt}`,
    rowAttrs: (n) => ({'data-test': 'node-row', 'data-node': n.id, 'data-node-name': n.name, class: selection.has(n.id) ? 'selected' : null}),
    empty: 'No node matches the search.',
    onDraw: syncSelectAll,
  });
  return {
    el: table.el,
    filter(q) {
      visible = q ? rows.filter((n) => n.name.toLowerCase().includes(q) || n.id.toLowerCase().includes(q)) : rows;
      table.setRows(visible);
    },
  };
}

// lastScanCell shows when the node's latest completed scan ran, or that it never ran.
function lastScanCell(n) {
  if (n.last_scan_at) {
    return h('span', {'data-test': 'node-last-scan', title: formatTime(n.last_scan_at)}, relativeTime(n.last_scan_at));
  }
  if (n.last_scan_id) {
    return h('span', {class: 'muted', 'data-test': 'node-last-scan'}, 'no completed scan');
  }
  return h('span', {class: 'muted never', 'data-test': 'node-last-scan'}, 'never scanned');
}

// scoreTitle is the tooltip of a score cell: its counts.
function scoreTitle(s) {
  const c = countsOf(s);
  return `${formatScore(s)}: pass ${c.pass}, fail ${c.fail}, info ${c.info}, skip ${c.skip}, error ${c.error}, masked ${c.masked}`;
}
