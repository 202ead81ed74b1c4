// One node: its facts, its scan history with the score trend per benchmark, the masks that
// cover it, and the choice of two scans to compare.

import * as api from '../api.js';
import {add, h, replace} from '../dom.js';
import {formatTime, formatTimeSeconds, parseTime, relativeTime, stateName, targetSingular, hasScore} from '../format.js';
import {href, navigate} from '../router.js';
import {can} from '../session.js';
import {Notices, emptyState, loading, pageHeader, scoreText, section, stateBadge, isAbort} from '../ui.js';
import {trendChart} from '../charts.js';
import {maskScope, unmaskButton} from '../masks.js';
import {openScanDialog} from './scandialog.js';

const PAGE_SIZE = 100;

// render shows the node page.
export async function render(ctx) {
  const nodeId = ctx.params.id;
  const notices = new Notices();
  const head = h('div', {}, loading());
  const factsEl = h('div');
  const trendEl = h('div', {class: 'chart-box'});
  const historyEl = h('div');
  const masksEl = h('div');
  add(ctx.el, head, notices.el, factsEl,
    section('Score trend', {'data-test': 'node-trend-section'}, trendEl),
    section('Scan history', {'data-test': 'node-scans-section'}, historyEl),
    section('Masks covering this node', {'data-test': 'node-masks-section'}, masksEl));

  let node;
  let benchById;
  try {
    const [n, catalogue] = await Promise.all([api.getNode(nodeId), api.benchmarks()]);
    node = n;
    benchById = new Map(catalogue.map((b) => [b.id, b]));
  } catch (err) {
    if (!isAbort(err, ctx.signal)) {
      replace(head, pageHeader('Node', nodeId));
      notices.error(err, err.status === 404 ? 'No such node' : 'Cannot load the node');
    }
    return;
  }

  const scanButton = can('analyst')
    ? h('button', {type: 'button', class: 'button button-primary', 'data-test': 'start-scan'}, 'Scan this node…')
    : null;
  scanButton?.addEventListener('click', () => openScanDialog({
    nodes: [{id: node.id, name: node.name, target_type: node.target_type, connected: node.connected}],
    selected: [node.id],
    signal: ctx.signal,
    onClose: (started) => {
      if (started) {
        navigate(location.hash);
      }
    },
  }));
  replace(head, pageHeader(node.name, `${targetSingular(node.target_type)} · ${node.id}`, scanButton));
  const f = node.facts || {};
  replace(factsEl, h('dl', {class: 'facts', 'data-test': 'node-facts'},
    fact('Connection', node.connected
      ? h('span', {class: 'conn-text conn-on-text'}, 'connected')
      : h('span', {class: 'conn-text conn-off-text'}, `not connected${node.last_seen_at ? `, last seen ${relativeTime(node.last_seen_at)}` : ''}`)),
    fact('Hostname', f.hostname),
    fact('Operating system', f.os_name || [f.os_id, f.os_version].filter(Boolean).join(' ')),
    fact('Kernel', f.kernel),
    fact('Architecture', f.arch),
    fact('Machine id', f.machine_id, 'mono'),
    fact('Sensor version', f.sensor_version),
    fact('Catalogue version', f.catalog_version),
    fact('Enrolled', formatTimeSeconds(node.enrolled_at)),
    fact('Last seen', formatTimeSeconds(node.last_seen_at))));

  // Scans: all pages are fetched on demand with "Load older scans".
  const scans = [];
  let nextToken = '';
  const selected = [];
  const compareButton = h('button', {type: 'button', class: 'button button-primary', 'data-test': 'compare-button', disabled: true}, 'Compare selected scans');
  const compareHint = h('span', {class: 'muted small', 'data-test': 'compare-hint'}, 'Select two complete scans to compare.');
  const more = h('button', {type: 'button', class: 'button button-small', 'data-test': 'scans-more', hidden: true}, 'Load older scans');

  const updateCompare = () => {
    compareButton.disabled = selected.length !== 2;
    compareHint.textContent = selected.length === 2 ? 'The older scan is the base.'
      : `Select ${2 - selected.length} more complete ${selected.length === 1 ? 'scan' : 'scans'} to compare.`;
  };
  compareButton.addEventListener('click', () => {
    const pair = selected.map((id) => scans.find((s) => s.id === id)).sort((a, b) => parseTime(a.created_at) - parseTime(b.created_at));
    navigate(href('/compare', {base: pair[0].id, head: pair[1].id}));
  });

  const drawScans = () => {
    if (scans.length === 0) {
      replace(historyEl, emptyState('node-scans-empty', h('p', {}, can('analyst')
        ? 'This node has never been scanned. Press "Scan this node" to start.'
        : 'This node has never been scanned.')));
      replace(trendEl, h('p', {class: 'muted'}, 'The trend appears after the first completed scan.'));
      return;
    }
    const benchIds = [];
    for (const s of scans) {
      for (const id of s.benchmark_ids || []) {
        if (!benchIds.includes(id)) {
          benchIds.push(id);
        }
      }
    }
    const label = (id) => (benchById.get(id)?.short_name || id).toUpperCase();
    const tbody = h('tbody', {}, scans.map((s) => {
      const complete = stateName(s.state) === 'complete';
      const box = h('input', {type: 'checkbox', checked: selected.includes(s.id), disabled: !complete,
        title: complete ? null : 'Only complete scans can be compared',
        'aria-label': `Select the scan of ${formatTime(s.created_at)}`, 'data-test': 'compare-select', 'data-scan': s.id});
      box.addEventListener('change', () => {
        if (box.checked) {
          selected.push(s.id);
          if (selected.length > 2) {
            const dropped = selected.shift();
            const other = historyEl.querySelector(`input[data-scan="${CSS.escape(dropped)}"]`);
            if (other) {
              other.checked = false;
            }
          }
        } else {
          selected.splice(selected.indexOf(s.id), 1);
        }
        updateCompare();
      });
      return h('tr', {'data-test': 'node-scan-row', 'data-scan': s.id},
        h('td', {class: 'col-check'}, box),
        h('td', {}, h('a', {href: href('/scans', s.id)}, formatTime(s.created_at))),
        h('td', {}, stateBadge(s.state)),
        benchIds.map((id) => h('td', {class: 'num'}, (s.benchmark_ids || []).includes(id)
          ? scoreText((s.scores || []).find((x) => x.benchmark_id === id), {'data-benchmark': id})
          : h('span', {class: 'muted'}, '—'))),
        h('td', {class: 'small'}, s.created_by));
    }));
    replace(historyEl,
      h('div', {class: 'toolbar'}, compareButton, compareHint),
      h('div', {class: 'table-wrap'}, h('table', {class: 'table', 'data-test': 'node-scans-table'},
        h('thead', {}, h('tr', {}, h('th', {class: 'col-check'}, 'Compare'), h('th', {}, 'Created'), h('th', {}, 'State'),
          benchIds.map((id) => h('th', {class: 'num', title: benchById.get(id)?.title || id}, label(id))), h('th', {}, 'By'))),
        tbody)),
      more);
    more.hidden = !nextToken;
    updateCompare();

    // Trend: completed scans oldest first, one line per benchmark.
    const complete = scans.filter((s) => stateName(s.state) === 'complete').reverse();
    const series = benchIds.map((id) => ({
      id,
      label: label(id),
      points: complete.filter((s) => (s.benchmark_ids || []).includes(id)).map((s) => {
        const score = (s.scores || []).find((x) => x.benchmark_id === id);
        return {time: parseTime(s.created_at), score: hasScore(score) ? score.score : null, scanId: s.id};
      }),
    })).filter((s) => s.points.length > 0);
    replace(trendEl, series.length
      ? trendChart(series, {link: (p) => href('/scans', p.scanId)})
      : h('p', {class: 'muted'}, 'The trend appears after the first completed scan.'));
  };

  const loadScans = async () => {
    try {
      const page = await api.listScans({node: node.id, pageSize: PAGE_SIZE, pageToken: nextToken});
      scans.push(...(page.scans || []));
      nextToken = page.next_page_token || '';
      drawScans();
    } catch (err) {
      if (!isAbort(err, ctx.signal)) {
        notices.error(err, 'Cannot load the scans of this node');
      }
    }
  };
  more.addEventListener('click', loadScans);

  const loadMasks = async () => {
    try {
      const res = await api.listMasks({node: node.id});
      const masks = (res.masks || []).filter((m) => m.active);
      const name = (id) => (id === node.id ? node.name : id);
      if (masks.length === 0) {
        replace(masksEl, h('p', {class: 'muted', 'data-test': 'node-masks-empty'}, 'No mask covers this node: every result counts.'));
        return;
      }
      replace(masksEl, h('div', {class: 'table-wrap'}, h('table', {class: 'table', 'data-test': 'node-masks-table'},
        h('thead', {}, h('tr', {}, ['Control', 'Scope', 'Reason', 'By', 'Expires', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, masks.map((m) => h('tr', {'data-test': 'mask-row', 'data-mask': m.id, 'data-control': m.control_id},
          h('td', {class: 'mono small'}, m.control_id),
          h('td', {}, maskScope(m, name)),
          h('td', {class: 'reason'}, m.reason),
          h('td', {class: 'small'}, `${m.created_by}, ${formatTime(m.created_at)}`),
          h('td', {class: 'small'}, m.expires_at ? formatTime(m.expires_at) : 'never'),
          h('td', {}, can('analyst') ? unmaskButton(m, {
            onDone: () => {
              notices.success(`Unmasked ${m.control_id} on ${maskScope(m, name)}.`);
              loadMasks();
            },
            onError: (err) => notices.error(err, 'Unmask failed'),
          }) : null)))))));
    } catch (err) {
      if (!isAbort(err, ctx.signal)) {
        replace(masksEl, h('p', {class: 'muted'}, `The masks could not be loaded: ${err.message}`));
      }
    }
  };

  replace(historyEl, loading());
  await Promise.all([loadScans(), loadMasks()]);
}

// fact is one term of the facts list; empty values show a dash.
function fact(term, value, cls) {
  return h('div', {class: 'fact'}, h('dt', {}, term), h('dd', {class: cls}, value || '—'));
}
