// Charts drawn as inline SVG: the bar chart of result counts by status, the stacked bar of
// a score's counts and the score trend of a node's scans. Colours come from the stylesheet
// through classes.

import {h, svg} from './dom.js';
import {fixed1, formatTime} from './format.js';

// CHART_STATUSES are the bars of the status chart, masked last.
const CHART_STATUSES = ['pass', 'fail', 'info', 'skip', 'error', 'masked'];

// niceMax rounds a maximum up to a readable axis end.
function niceMax(max) {
  if (max <= 10) {
    return 10;
  }
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) {
    if (step * magnitude >= max) {
      return step * magnitude;
    }
  }
  return 10 * magnitude;
}

// statusBarChart draws one bar per status (masked included) from {pass, fail, info, skip,
// error, masked}.
export function statusBarChart(counts, {testId = 'status-chart', title = 'Results by status'} = {}) {
  const width = 480;
  const height = 220;
  const left = 44;
  const bottom = 28;
  const top = 18;
  const plotH = height - top - bottom;
  const max = niceMax(Math.max(...CHART_STATUSES.map((s) => counts[s] || 0)));
  const slot = (width - left - 8) / CHART_STATUSES.length;
  const barW = Math.min(48, slot * 0.6);
  const ticks = [0, max / 2, max];
  const total = CHART_STATUSES.reduce((n, s) => n + (counts[s] || 0), 0);
  return svg('svg', {
    class: 'chart status-chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'data-test': testId,
    'aria-label': `${title}: ${CHART_STATUSES.map((s) => `${s} ${counts[s] || 0}`).join(', ')}`,
  },
  svg('title', {}, title),
  ticks.map((t) => {
    const y = top + plotH - (t / max) * plotH;
    return svg('g', {class: 'axis'},
      svg('line', {x1: left, x2: width - 4, y1: y, y2: y, class: 'grid'}),
      svg('text', {x: left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis-label'}, String(Math.round(t))));
  }),
  CHART_STATUSES.map((s, i) => {
    const n = counts[s] || 0;
    const barH = (n / max) * plotH;
    const x = left + i * slot + (slot - barW) / 2;
    const y = top + plotH - barH;
    return svg('g', {'data-test': `bar-${s}`, 'data-count': n},
      svg('rect', {x, y, width: barW, height: Math.max(barH, n > 0 ? 1 : 0), class: `bar fill-${s}`},
        svg('title', {}, `${s}: ${n}`)),
      svg('text', {x: x + barW / 2, y: y - 4, 'text-anchor': 'middle', class: 'bar-value'}, String(n)),
      svg('text', {x: x + barW / 2, y: height - 8, 'text-anchor': 'middle', class: 'axis-label'}, s));
  }),
  total === 0 ? svg('text', {x: width / 2, y: top + plotH / 2, 'text-anchor': 'middle', class: 'chart-empty'}, 'No results') : null);
}

// stackedBar draws a thin bar split by status counts (masked included), for cards.
export function stackedBar(counts, {testId} = {}) {
  const statuses = CHART_STATUSES;
  const total = statuses.reduce((n, s) => n + (counts[s] || 0), 0);
  const width = 200;
  const bar = svg('svg', {class: 'stacked-bar', viewBox: `0 0 ${width} 8`, preserveAspectRatio: 'none', role: 'img', 'data-test': testId,
    'aria-label': statuses.map((s) => `${s} ${counts[s] || 0}`).join(', ')});
  if (total === 0) {
    bar.appendChild(svg('rect', {x: 0, y: 0, width, height: 8, class: 'fill-empty'}));
    return bar;
  }
  let x = 0;
  for (const s of statuses) {
    const n = counts[s] || 0;
    if (n === 0) {
      continue;
    }
    const w = (n / total) * width;
    bar.appendChild(svg('rect', {x, y: 0, width: w, height: 8, class: `fill-${s}`}, svg('title', {}, `${s}: ${n}`)));
    x += w;
  }
  return bar;
}

// trendChart draws each benchmark's score over a node's scans. series: [{id, label,
// points: [{time: Date, score: number|null, scanId}]}]; points without a score are gaps.
export function trendChart(series, {testId = 'score-trend', link = null} = {}) {
  const width = 1100;
  const height = 260;
  const left = 44;
  const right = 16;
  const top = 14;
  const bottom = 30;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const times = series.flatMap((s) => s.points.map((p) => p.time.getTime()));
  const minT = Math.min(...times);
  const maxT = Math.max(...times);
  const span = maxT - minT || 1;
  const xOf = (t) => (maxT === minT ? left + plotW / 2 : left + ((t - minT) / span) * plotW);
  const yOf = (score) => top + plotH - (score / 100) * plotH;

  const chart = svg('svg', {class: 'chart trend-chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'data-test': testId,
    'aria-label': 'Score per benchmark over the scans of this node'});
  for (const t of [0, 25, 50, 75, 100]) {
    chart.appendChild(svg('g', {class: 'axis'},
      svg('line', {x1: left, x2: width - right, y1: yOf(t), y2: yOf(t), class: 'grid'}),
      svg('text', {x: left - 6, y: yOf(t) + 4, 'text-anchor': 'end', class: 'axis-label'}, `${t}%`)));
  }
  if (times.length) {
    chart.appendChild(svg('text', {x: left, y: height - 8, 'text-anchor': 'start', class: 'axis-label'}, formatTime(new Date(minT).toISOString())));
    if (maxT !== minT) {
      chart.appendChild(svg('text', {x: width - right, y: height - 8, 'text-anchor': 'end', class: 'axis-label'}, formatTime(new Date(maxT).toISOString())));
    }
  }
  series.forEach((s, i) => {
    const cls = `series-${i % 8}`;
    const group = svg('g', {class: `series ${cls}`, 'data-benchmark': s.id});
    // One polyline per run of consecutive points that have a score.
    let run = [];
    const flush = () => {
      if (run.length > 1) {
        group.appendChild(svg('polyline', {points: run.join(' '), class: 'line'}));
      }
      run = [];
    };
    for (const p of s.points) {
      if (typeof p.score !== 'number') {
        flush();
        continue;
      }
      run.push(`${xOf(p.time.getTime()).toFixed(1)},${yOf(p.score).toFixed(1)}`);
    }
    flush();
    for (const p of s.points) {
      if (typeof p.score !== 'number') {
        continue;
      }
      const dot = svg('circle', {cx: xOf(p.time.getTime()).toFixed(1), cy: yOf(p.score).toFixed(1), r: 3.5, class: 'dot'},
        svg('title', {}, `${s.label}: ${fixed1(p.score)}% (${formatTime(p.time.toISOString())})`));
      group.appendChild(link ? svg('a', {href: link(p)}, dot) : dot);
    }
    chart.appendChild(group);
  });
  return h('figure', {class: 'trend'}, chart,
    h('figcaption', {class: 'legend'}, series.map((s, i) => h('span', {class: 'legend-item'},
      h('span', {class: `legend-swatch series-${i % 8}`, 'aria-hidden': 'true'}), s.label))));
}
