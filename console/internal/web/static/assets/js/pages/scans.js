// The list of scans, newest first, filtered by state, one page at a time.

import * as api from '../api.js';
import {add, h, replace} from '../dom.js';
import {formatTime, relativeTime, isTerminal} from '../format.js';
import {href, navigate, replaceQuery} from '../router.js';
import {Notices, emptyState, loading, pageHeader, scoreText, stateBadge, isAbort} from '../ui.js';

const PAGE_SIZE = 50;
const STATES = ['queued', 'dispatched', 'running', 'complete', 'failed', 'cancelled', 'timed_out'];

// render shows the scans page.
export async function render(ctx) {
  const notices = new Notices();
  let stateFilter = STATES.includes(ctx.query.get('state')) ? ctx.query.get('state') : '';
  const stateSelect = h('select', {'data-test': 'scans-state-filter', 'aria-label': 'State'},
    h('option', {value: ''}, 'Every state'),
    STATES.map((s) => h('option', {value: s, selected: s === stateFilter}, s.replace('_', ' '))));
  const body = h('div', {}, loading());
  const prev = h('button', {type: 'button', class: 'button button-small', 'data-test': 'page-prev', disabled: true}, '← Newer');
  const next = h('button', {type: 'button', class: 'button button-small', 'data-test': 'page-next', disabled: true}, 'Older →');
  add(ctx.el, pageHeader('Scans', 'Every scan, newest first', stateSelect), notices.el, body,
    h('div', {class: 'pager'}, h('span', {class: 'spacer'}), prev, next));

  let tokens = [''];
  let index = 0;
  let benchById = new Map();

  const load = async () => {
    let page;
    try {
      const [p, catalogue] = await Promise.all([
        api.listScans({state: stateFilter, pageSize: PAGE_SIZE, pageToken: tokens[index]}),
        api.benchmarks(),
      ]);
      page = p;
      benchById = new Map(catalogue.map((b) => [b.id, b]));
    } catch (err) {
      if (!isAbort(err, ctx.signal)) {
        replace(body);
        notices.error(err, 'Cannot load the scans');
      }
      return;
    }
    tokens[index + 1] = page.next_page_token || '';
    tokens.length = index + 2;
    prev.disabled = index === 0;
    next.disabled = !page.next_page_token;
    const scans = page.scans || [];
    if (scans.length === 0) {
      replace(body, emptyState('scans-empty', stateFilter
        ? h('p', {}, 'No scan is in this state.')
        : h('p', {}, 'No scan yet. Start one from the ', h('a', {href: '#/posture'}, 'posture page'), ': pick nodes and benchmarks, then press Start scan.')));
      return;
    }
    replace(body, h('div', {class: 'table-wrap'}, h('table', {class: 'table', 'data-test': 'scans-table'},
      h('thead', {}, h('tr', {}, ['Created', 'Node', 'State', 'Progress', 'Scores', 'By'].map((t) => h('th', {}, t)))),
      h('tbody', {}, scans.map((s) => {
        const tr = h('tr', {class: 'clickable', 'data-test': 'scan-row', 'data-scan': s.id},
          h('td', {title: formatTime(s.created_at)}, h('a', {href: href('/scans', s.id)}, formatTime(s.created_at)),
            h('div', {class: 'muted small'}, relativeTime(s.created_at))),
          h('td', {}, h('a', {href: href('/nodes', s.node_id)}, s.node_name || s.node_id)),
          h('td', {}, stateBadge(s.state)),
          h('td', {class: 'small'}, s.controls_total ? `${s.controls_done} / ${s.controls_total}` : (isTerminal(s.state) ? '—' : 'waiting')),
          h('td', {}, h('div', {class: 'score-list'}, (s.benchmark_ids || []).map((id) => {
            const score = (s.scores || []).find((x) => x.benchmark_id === id);
            return h('span', {class: 'score-pair'}, h('span', {class: 'muted small'}, (benchById.get(id)?.short_name || id).toUpperCase()), ' ',
              isTerminal(s.state) ? scoreText(score) : h('span', {class: 'muted'}, '…'));
          }))),
          h('td', {class: 'small'}, s.created_by));
        tr.addEventListener('click', (e) => {
          if (!e.target.closest('a')) {
            navigate(href('/scans', s.id));
          }
        });
        return tr;
      })))));
  };

  stateSelect.addEventListener('change', () => {
    stateFilter = stateSelect.value;
    replaceQuery({state: stateFilter});
    tokens = [''];
    index = 0;
    load();
  });
  prev.addEventListener('click', () => {
    index = Math.max(0, index - 1);
    load();
  });
  next.addEventListener('click', () => {
    if (tokens[index + 1]) {
      index += 1;
      load();
    }
  });
  await load();
}
