// Comparison of two scans of one node: the score change per benchmark, what newly fails,
// what was fixed, what still fails and how many results did not change.

import * as api from '../api.js';
import {add, h, replace} from '../dom.js';
import {formatDelta, formatTime, plural} from '../format.js';
import {href} from '../router.js';
import {Notices, emptyState, loading, pageHeader, scoreText, section, severityBadge, statusBadge, isAbort} from '../ui.js';

// render shows the compare page.
export async function render(ctx) {
  const base = ctx.query.get('base') || '';
  const headId = ctx.query.get('head') || '';
  const notices = new Notices();
  const body = h('div', {}, loading());
  add(ctx.el, pageHeader('Compare scans', null), notices.el, body);
  if (!base || !headId) {
    replace(body, emptyState('compare-empty', h('p', {},
      'Pick two scans to compare on a node\'s page: open a node from the ', h('a', {href: '#/posture'}, 'posture page'),
      ', tick two scans in its history and press Compare.')));
    return;
  }
  let cmp;
  let benchById;
  try {
    const [c, catalogue] = await Promise.all([api.compareScans(base, headId), api.benchmarks()]);
    cmp = c;
    benchById = new Map(catalogue.map((b) => [b.id, b]));
  } catch (err) {
    if (!isAbort(err, ctx.signal)) {
      replace(body);
      notices.error(err, 'Cannot compare the scans');
    }
    return;
  }
  const label = (id) => (benchById.get(id)?.short_name || id).toUpperCase();
  const scanLink = (s, testId) => h('a', {href: href('/scans', s.id), 'data-test': testId}, formatTime(s.created_at));

  replace(body,
    h('div', {class: 'compare-head', 'data-test': 'compare-head'},
      h('div', {}, h('div', {class: 'field-label'}, 'Node'), h('a', {href: href('/nodes', cmp.head?.node_id || '')}, cmp.head?.node_name || cmp.head?.node_id)),
      h('div', {}, h('div', {class: 'field-label'}, 'Base'), scanLink(cmp.base, 'compare-base')),
      h('div', {class: 'compare-arrow', 'aria-hidden': 'true'}, '→'),
      h('div', {}, h('div', {class: 'field-label'}, 'Head'), scanLink(cmp.head, 'compare-head-scan')),
      h('a', {href: href('/compare', {base: headId, head: base}), class: 'button button-small', 'data-test': 'compare-swap'}, 'Swap')),
    section('Score per benchmark', {'data-test': 'compare-scores'},
      h('div', {class: 'table-wrap'}, h('table', {class: 'table'},
        h('thead', {}, h('tr', {}, h('th', {}, 'Benchmark'), h('th', {class: 'num'}, 'Base'), h('th', {class: 'num'}, 'Head'), h('th', {class: 'num'}, 'Change'))),
        h('tbody', {}, (cmp.scores || []).length === 0
          ? h('tr', {class: 'empty-row'}, h('td', {colspan: 4}, 'The scans share no benchmark.'))
          : cmp.scores.map((d) => h('tr', {'data-test': 'compare-score-row', 'data-benchmark': d.benchmark_id},
            h('td', {title: benchById.get(d.benchmark_id)?.title || ''}, label(d.benchmark_id)),
            h('td', {class: 'num'}, scoreText(d.base)),
            h('td', {class: 'num'}, scoreText(d.head)),
            h('td', {class: ['num', 'delta', deltaClass(d.delta)], 'data-test': 'compare-delta'}, formatDelta(d.delta)))))))),
    resultSection('Newly failing', 'compare-newly-failing', cmp.newly_failing || [], 'Nothing fails now that did not fail before.'),
    resultSection('Fixed', 'compare-fixed', cmp.fixed || [], 'Nothing that failed before passes now.'),
    resultSection('Still failing', 'compare-still-failing', cmp.still_failing || [], 'Nothing fails in both scans.'),
    h('p', {class: 'unchanged', 'data-test': 'compare-unchanged', 'data-count': cmp.unchanged || 0},
      `${plural(cmp.unchanged || 0, 'result')} unchanged.`));
}

// deltaClass colours a score change.
function deltaClass(delta) {
  if (typeof delta !== 'number' || delta === 0) {
    return 'delta-none';
  }
  return delta > 0 ? 'delta-up' : 'delta-down';
}

// SHOWN_ROWS is how many compared results a section shows before "Show all".
const SHOWN_ROWS = 50;

// resultSection lists compared results with their status in both scans; long lists show
// their first rows and a button for the rest.
function resultSection(title, testId, rows, empty) {
  const tbody = h('tbody');
  const draw = (limit) => replace(tbody, rows.slice(0, limit).map((r) => h('tr', {'data-test': 'compare-row', 'data-control': r.control_id, 'data-resource': r.resource},
    h('td', {}, h('div', {class: 'mono small'}, r.control_id), h('div', {}, r.title)),
    h('td', {}, severityBadge(r.severity)),
    h('td', {class: 'mono small wrap-anywhere'}, r.resource),
    h('td', {}, statusBadge(r.base_status)),
    h('td', {}, statusBadge(r.head_status)))));
  draw(SHOWN_ROWS);
  const more = rows.length > SHOWN_ROWS
    ? h('button', {type: 'button', class: 'button button-small show-all', 'data-test': 'compare-show-all'}, `Show all ${rows.length}`)
    : null;
  more?.addEventListener('click', () => {
    draw(rows.length);
    more.remove();
  });
  return h('section', {class: 'section', 'data-test': testId},
    h('h2', {class: 'section-title'}, title, h('span', {class: 'count', 'data-test': 'compare-count'}, String(rows.length))),
    rows.length === 0
      ? h('p', {class: 'muted'}, empty)
      : [h('div', {class: 'table-wrap'}, h('table', {class: 'table'},
        h('thead', {}, h('tr', {}, h('th', {}, 'Control'), h('th', {}, 'Severity'), h('th', {}, 'Resource'), h('th', {}, 'Base'), h('th', {}, 'Head'))),
        tbody)), more]);
}
