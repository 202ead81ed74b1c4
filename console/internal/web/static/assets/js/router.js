// Hash routing: "#/scans/abc?status=fail" selects the route "/scans/:id" with params
// {id: "abc"} and query status=fail. Each navigation renders the page into a fresh container
// and aborts the previous page's signal, which stops its polling.

// parseHash splits location.hash into a path and its query.
export function parseHash(hash) {
  const raw = (hash || '').replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  return {path: path.startsWith('/') ? path : `/${path}`, query};
}

// match compares a path with a pattern such as "/scans/:id"; it returns the params or null.
export function match(pattern, path) {
  const want = pattern.split('/').filter(Boolean);
  const got = path.split('/').filter(Boolean);
  if (want.length !== got.length) {
    return null;
  }
  const params = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) {
      try {
        params[want[i].slice(1)] = decodeURIComponent(got[i]);
      } catch {
        return null;
      }
    } else if (want[i] !== got[i]) {
      return null;
    }
  }
  return params;
}

// href builds a hash link: href('/scans', id) -> "#/scans/<id escaped>", with an optional
// query object whose empty values are left out.
export function href(...parts) {
  let query = null;
  if (parts.length && typeof parts[parts.length - 1] === 'object') {
    query = parts.pop();
  }
  const path = parts.map((p, i) => (i === 0 ? p : encodeURIComponent(p))).join('/');
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') {
      params.set(k, String(v));
    }
  }
  const qs = params.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

// Router renders the page of the current hash.
export class Router {
  // routes: [{pattern, render(ctx), nav}]; notFound(ctx) renders unknown paths; onError(ctx,
  // err) shows a failure no page handled.
  constructor({routes, notFound, mount, onNavigate, onError}) {
    this.routes = routes;
    this.notFound = notFound;
    this.mount = mount;
    this.onNavigate = onNavigate;
    this.onError = onError;
    this.controller = null;
    this.listener = () => this.render();
  }

  start() {
    window.addEventListener('hashchange', this.listener);
    this.render();
  }

  stop() {
    window.removeEventListener('hashchange', this.listener);
    this.controller?.abort();
    this.controller = null;
  }

  // render shows the page of the current hash.
  render() {
    this.controller?.abort();
    this.controller = new AbortController();
    const {path, query} = parseHash(location.hash);
    let route = null;
    let params = {};
    for (const r of this.routes) {
      const p = match(r.pattern, path);
      if (p) {
        route = r;
        params = p;
        break;
      }
    }
    const container = document.createElement('div');
    container.className = 'page';
    this.mount.replaceChildren(container);
    this.onNavigate?.(route);
    window.scrollTo(0, 0);
    const ctx = {params, query, path, el: container, signal: this.controller.signal};
    const render = route ? route.render : this.notFound;
    Promise.resolve()
      .then(() => render(ctx))
      .catch((err) => {
        if (!ctx.signal.aborted) {
          this.onError?.(ctx, err);
        }
      });
  }
}

// navigate goes to a hash link.
export function navigate(link) {
  if (location.hash === link) {
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = link;
  }
}

// replaceQuery rewrites the current hash's query without rendering again (filters kept in
// the address so a reload or a shared link shows the same view).
export function replaceQuery(query) {
  const {path} = parseHash(location.hash);
  history.replaceState(null, '', href(path, query));
}
