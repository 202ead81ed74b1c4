// Client of the console's REST/JSON API under /api/v1. Every call goes through request(),
// which sends the CSRF token on changes, turns error bodies into ApiError and reports a 401
// to the application so it can show the sign-in page.

const PREFIX = '/api/v1/';

// ApiError is a failed call: the HTTP status and the API's error code and message.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

// The CSRF token of the current session; kept in memory only.
let csrfToken = '';
let unauthorizedHandler = () => {};

// setCsrfToken records the token the session call returned.
export function setCsrfToken(token) {
  csrfToken = token || '';
}

// onUnauthorized registers what to do when a call answers 401 (the session ended).
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

// seg escapes one path segment.
function seg(value) {
  return encodeURIComponent(String(value));
}

// buildUrl joins the path and the non-empty query parameters.
function buildUrl(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === '' || value === false) {
      continue;
    }
    params.set(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  const qs = params.toString();
  return PREFIX + path + (qs ? `?${qs}` : '');
}

async function request(method, path, {query, body, quiet401 = false} = {}) {
  const headers = {Accept: 'application/json'};
  const init = {method, headers, credentials: 'same-origin', cache: 'no-store'};
  if (method !== 'GET' && method !== 'HEAD') {
    headers['X-CSRF-Token'] = csrfToken;
  }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(buildUrl(path, query), init);
  } catch (err) {
    throw new ApiError(0, 'UNAVAILABLE', `the console did not answer (${err.message}); check that it is running and reachable`);
  }
  if (res.status === 204) {
    return null;
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const code = data?.error?.code || `HTTP_${res.status}`;
    const message = data?.error?.message || `${method} ${path} failed with HTTP ${res.status} ${res.statusText}`;
    const err = new ApiError(res.status, code, message);
    if (res.status === 401 && !quiet401) {
      unauthorizedHandler(err);
    }
    throw err;
  }
  if (data === null && text) {
    throw new ApiError(res.status, 'INVALID_RESPONSE', `${method} ${path} answered with something other than JSON`);
  }
  return data;
}

// Session.

export function getSession() {
  return request('GET', 'session', {quiet401: true});
}

export function signIn(name, password) {
  return request('POST', 'session', {body: {name, password}, quiet401: true});
}

export function signOut() {
  return request('DELETE', 'session', {quiet401: true});
}

// Posture, nodes and the catalogue.

export function getPosture(targetType) {
  return request('GET', 'posture', {query: {target_type: targetType}});
}

export function listNodes(targetType) {
  return request('GET', 'nodes', {query: {target_type: targetType}});
}

export function getNode(node) {
  return request('GET', `nodes/${seg(node)}`);
}

export function listBenchmarks({targetType, withRequirements} = {}) {
  return request('GET', 'benchmarks', {query: {target_type: targetType, with_requirements: withRequirements ? 'true' : ''}});
}

export function listControls({benchmark, targetType} = {}) {
  return request('GET', 'controls', {query: {benchmark, target_type: targetType}});
}

export function getControl(id) {
  return request('GET', `controls/${seg(id)}`);
}

// Scans and results.

export function startScan({nodes, benchmarks, excludeControls}) {
  return request('POST', 'scans', {body: {nodes, benchmarks, exclude_controls: excludeControls || []}});
}

export function listScans({node, state, pageSize, pageToken} = {}) {
  return request('GET', 'scans', {query: {node, state, page_size: pageSize, page_token: pageToken}});
}

export function getScan(id) {
  return request('GET', `scans/${seg(id)}`);
}

export function stopScan(id) {
  return request('POST', `scans/${seg(id)}/stop`);
}

// listResults takes {benchmark, statuses: ['fail', ...], service, severity,
// masked: 'exclude'|'only'|'include', q, orderBy, pageSize, pageToken}.
export function listResults(scanId, f = {}) {
  return request('GET', `scans/${seg(scanId)}/results`, {
    query: {
      benchmark: f.benchmark,
      status: f.statuses && f.statuses.length ? f.statuses : '',
      service: f.service,
      severity: f.severity,
      masked: f.masked,
      q: f.q,
      order_by: f.orderBy,
      page_size: f.pageSize,
      page_token: f.pageToken,
    },
  });
}

export function compareScans(base, head) {
  return request('GET', 'compare', {query: {base, head}});
}

export function controlHistory(node, control, limit) {
  return request('GET', `nodes/${seg(node)}/controls/${seg(control)}/history`, {query: {limit}});
}

// exportUrl is the download link of a scan's export: csv, json, sarif or html.
export function exportUrl(scanId, format) {
  return buildUrl(`scans/${seg(scanId)}/export`, {format});
}

// Masks.

// createMask takes {controlId, nodes, resource, reason, expiresAt (Date or null)}.
export function createMask({controlId, nodes, resource, reason, expiresAt}) {
  const body = {control_id: controlId, nodes: nodes || [], resource: resource || '', reason};
  if (expiresAt) {
    body.expires_at = expiresAt.toISOString();
  }
  return request('POST', 'masks', {body});
}

export function listMasks({controlId, node, includeInactive} = {}) {
  return request('GET', 'masks', {query: {control_id: controlId, node, include_inactive: includeInactive ? 'true' : ''}});
}

export function removeMask(id) {
  return request('DELETE', `masks/${seg(id)}`);
}

// Enrolment tokens, API tokens and users.

export function listEnrolmentTokens() {
  return request('GET', 'enrolment-tokens');
}

export function createEnrolmentToken(ttlSeconds, uses) {
  return request('POST', 'enrolment-tokens', {body: {ttl_seconds: ttlSeconds, uses}});
}

export function revokeEnrolmentToken(id) {
  return request('POST', `enrolment-tokens/${seg(id)}/revoke`);
}

export function listApiTokens() {
  return request('GET', 'api-tokens');
}

export function createApiToken(name, role, ttlSeconds) {
  return request('POST', 'api-tokens', {body: {name, role, ttl_seconds: ttlSeconds}});
}

export function revokeApiToken(id) {
  return request('POST', `api-tokens/${seg(id)}/revoke`);
}

export function listUsers() {
  return request('GET', 'users');
}

export function createUser(name, role, password) {
  return request('POST', 'users', {body: {name, role, password}});
}

export function deleteUser(name) {
  return request('DELETE', `users/${seg(name)}`);
}

// Catalogue data changes only when the console restarts; keep it for the page's life.
const benchmarkCache = new Map();
const controlCache = new Map();

// benchmarks returns every benchmark (with requirements), cached.
export async function benchmarks() {
  if (!benchmarkCache.has('all')) {
    const p = listBenchmarks({withRequirements: true}).then((r) => r.benchmarks || []);
    benchmarkCache.set('all', p);
    p.catch(() => benchmarkCache.delete('all'));
  }
  return benchmarkCache.get('all');
}

// benchmarkControls returns the controls of one benchmark, cached.
export async function benchmarkControls(benchmarkId) {
  if (!controlCache.has(benchmarkId)) {
    const p = listControls({benchmark: benchmarkId}).then((r) => r.controls || []);
    controlCache.set(benchmarkId, p);
    p.catch(() => controlCache.delete(benchmarkId));
  }
  return controlCache.get(benchmarkId);
}
