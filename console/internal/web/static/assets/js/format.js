// Formatting of the API's values for people: scores, enums, dates and target types. One
// definition used by every page, matching the console's own exports.

// TARGET_TYPES lists the target types in display order (posture.TargetTypes).
export const TARGET_TYPES = ['linux', 'kubernetes', 'aws', 'azure', 'gcp'];

const TARGET_LABELS = {
  linux: 'Linux hosts',
  kubernetes: 'Kubernetes nodes',
  aws: 'AWS accounts',
  azure: 'Azure subscriptions',
  gcp: 'GCP projects',
};

const TARGET_SINGULAR = {
  linux: 'Linux host',
  kubernetes: 'Kubernetes node',
  aws: 'AWS account',
  azure: 'Azure subscription',
  gcp: 'GCP project',
};

// targetLabel names a target type in the plural ("Linux hosts").
export function targetLabel(tt) {
  return TARGET_LABELS[tt] || tt || 'Unknown';
}

// targetSingular names one node of a target type ("Linux host").
export function targetSingular(tt) {
  return TARGET_SINGULAR[tt] || tt || 'node';
}

// STATUSES lists the result statuses in display order (posture.Statuses).
export const STATUSES = ['pass', 'fail', 'info', 'skip', 'error'];

// SEVERITIES lists the severities, most severe first.
export const SEVERITIES = ['critical', 'high', 'medium', 'low'];

// TERMINAL_STATES are the scan states no scan leaves.
const TERMINAL_STATES = new Set(['complete', 'failed', 'cancelled', 'timed_out']);

// enumName turns "STATUS_FAIL" into "fail" and "SCAN_STATE_TIMED_OUT" into "timed_out".
function enumName(value, prefix) {
  if (!value) {
    return '';
  }
  const s = String(value);
  return (s.startsWith(prefix) ? s.slice(prefix.length) : s).toLowerCase();
}

// statusName returns "fail" for "STATUS_FAIL"; "" for STATUS_UNSPECIFIED.
export function statusName(value) {
  const s = enumName(value, 'STATUS_');
  return s === 'unspecified' ? '' : s;
}

// stateName returns "running" for "SCAN_STATE_RUNNING"; "" for SCAN_STATE_UNSPECIFIED.
export function stateName(value) {
  const s = enumName(value, 'SCAN_STATE_');
  return s === 'unspecified' ? '' : s;
}

// stateLabel returns "timed out" for "SCAN_STATE_TIMED_OUT".
export function stateLabel(value) {
  return stateName(value).replace('_', ' ');
}

// isTerminal reports whether a scan in this state has ended.
export function isTerminal(value) {
  return TERMINAL_STATES.has(stateName(value));
}

// fixed1 renders x with one decimal, rounding exact halves to even like the console's Go code
// (strconv), so the page and the exports never disagree on a score.
export function fixed1(x) {
  const abs = Math.abs(x);
  let text;
  const quarters = abs * 4;
  if (Number.isInteger(quarters) && quarters % 2 === 1) {
    // abs ends in .25 or .75, exactly halfway between two tenths: keep the even one.
    const low = Math.floor(abs * 10);
    const tenths = low % 2 === 0 ? low : low + 1;
    text = `${Math.floor(tenths / 10)}.${tenths % 10}`;
  } else {
    text = abs.toFixed(1);
  }
  return x < 0 && text !== '0.0' ? `-${text}` : text;
}

// hasScore reports whether a Score message carries a score (it is absent when no result
// counts).
export function hasScore(score) {
  return Boolean(score) && typeof score.score === 'number';
}

// formatScore renders a Score message: "87.5%", or "n/a" when there is no score.
export function formatScore(score) {
  return hasScore(score) ? `${fixed1(score.score)}%` : 'n/a';
}

// formatDelta renders a score difference in percentage points: "+2.5 pts", "-1.0 pts",
// "0.0 pts", or "n/a".
export function formatDelta(delta) {
  if (typeof delta !== 'number') {
    return 'n/a';
  }
  const text = fixed1(delta);
  return `${delta > 0 && text !== '0.0' ? '+' : ''}${text} pts`;
}

// scoreClass grades a score for colouring.
export function scoreClass(score) {
  if (!hasScore(score)) {
    return 'score-none';
  }
  if (score.score >= 90) {
    return 'score-good';
  }
  if (score.score >= 70) {
    return 'score-fair';
  }
  return 'score-poor';
}

// toNumber reads a protojson number, which arrives as a string for 64-bit integers.
export function toNumber(v) {
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? n : 0;
}

function pad(n) {
  return String(n).padStart(2, '0');
}

// parseTime reads a protojson Timestamp; null when absent.
export function parseTime(value) {
  if (!value) {
    return null;
  }
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

// formatTime renders a timestamp in local time, "2025-11-26 14:03"; "" when absent.
export function formatTime(value) {
  const d = parseTime(value);
  if (!d) {
    return '';
  }
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// formatTimeSeconds is formatTime with seconds.
export function formatTimeSeconds(value) {
  const d = parseTime(value);
  return d ? `${formatTime(value)}:${pad(d.getSeconds())}` : '';
}

// relativeTime renders how long ago (or until) a timestamp is: "5 min ago", "in 2 h".
export function relativeTime(value, now = Date.now()) {
  const d = parseTime(value);
  if (!d) {
    return '';
  }
  const seconds = Math.round((d.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  let text;
  if (abs < 45) {
    return seconds <= 0 ? 'just now' : 'in a moment';
  } else if (abs < 3600) {
    text = `${Math.round(abs / 60)} min`;
  } else if (abs < 86400) {
    text = `${Math.round(abs / 3600)} h`;
  } else {
    text = `${Math.round(abs / 86400)} d`;
  }
  return seconds < 0 ? `${text} ago` : `in ${text}`;
}

// isPast reports whether a timestamp is before now.
export function isPast(value, now = Date.now()) {
  const d = parseTime(value);
  return Boolean(d) && d.getTime() <= now;
}

// plural renders "1 node", "3 nodes".
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

// countsOf returns the status counts of a Score message, masked included.
export function countsOf(score) {
  return {
    pass: score?.pass || 0,
    fail: score?.fail || 0,
    info: score?.info || 0,
    skip: score?.skip || 0,
    error: score?.error || 0,
    masked: score?.masked || 0,
  };
}

// severityRank orders severities, most severe first; unknown last.
export function severityRank(sev) {
  const i = SEVERITIES.indexOf(sev);
  return i < 0 ? SEVERITIES.length : i;
}
