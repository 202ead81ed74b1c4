// Entry point of the console's web UI: it restores the session, then shows either the
// sign-in page or the application (header, navigation and the routed pages).

import * as api from './api.js';
import {h, replace} from './dom.js';
import {Router, navigate} from './router.js';
import {setSession, session, can} from './session.js';
import {Notices} from './ui.js';
import * as posture from './pages/posture.js';
import * as scans from './pages/scans.js';
import * as scan from './pages/scan.js';
import * as node from './pages/node.js';
import * as compare from './pages/compare.js';
import * as catalogue from './pages/catalogue.js';
import * as tokens from './pages/tokens.js';
import * as admin from './pages/admin.js';
import {forbidden, notFound} from './pages/errors.js';

const app = document.getElementById('app');
let router = null;

// NAV lists the navigation links; min is the least role that sees the link.
const NAV = [
  {id: 'posture', label: 'Posture', href: '#/posture', min: 'viewer'},
  {id: 'scans', label: 'Scans', href: '#/scans', min: 'viewer'},
  {id: 'catalogue', label: 'Catalogue', href: '#/catalogue', min: 'viewer'},
  {id: 'tokens', label: 'Enrolment tokens', href: '#/tokens', min: 'admin'},
  {id: 'admin', label: 'Admin', href: '#/admin', min: 'admin'},
];

// adminOnly wraps a page that only administrators may open.
function adminOnly(render) {
  return (ctx) => (can('admin') ? render(ctx) : forbidden(ctx, 'This page is for administrators.'));
}

const ROUTES = [
  {pattern: '/', nav: 'posture', render: () => navigate('#/posture')},
  {pattern: '/posture', nav: 'posture', render: posture.render},
  {pattern: '/scans', nav: 'scans', render: scans.render},
  {pattern: '/scans/:id', nav: 'scans', render: scan.render},
  {pattern: '/nodes/:id', nav: 'posture', render: node.render},
  {pattern: '/compare', nav: 'scans', render: compare.render},
  {pattern: '/catalogue', nav: 'catalogue', render: catalogue.render},
  {pattern: '/tokens', nav: 'tokens', render: adminOnly(tokens.render)},
  {pattern: '/admin', nav: 'admin', render: adminOnly(admin.render)},
];

// showApp renders the header and starts routing.
function showApp() {
  const user = session();
  const links = NAV.filter((n) => can(n.min)).map((n) =>
    h('a', {href: n.href, class: 'nav-link', 'data-test': `nav-${n.id}`, 'data-nav': n.id}, n.label));
  const main = h('main', {class: 'main', id: 'main'});
  replace(app,
    h('header', {class: 'topbar'},
      h('a', {class: 'brand', href: '#/posture', 'data-test': 'brand'},
        h('img', {src: '/assets/favicon.svg', alt: '', class: 'brand-mark', width: 22, height: 22}), 'Palisade'),
      h('nav', {class: 'nav', 'aria-label': 'Main'}, links),
      h('div', {class: 'user'},
        h('span', {class: 'user-name', 'data-test': 'user-name'}, user.name),
        h('span', {class: `role role-${user.role}`, 'data-test': 'user-role'}, user.role),
        h('button', {type: 'button', class: 'button button-small', 'data-test': 'sign-out', onclick: signOut}, 'Sign out'))),
    main);
  router?.stop();
  router = new Router({
    routes: ROUTES,
    notFound,
    mount: main,
    onError: (ctx, err) => {
      const notices = new Notices();
      ctx.el.prepend(notices.el);
      notices.error(err, 'This page failed');
    },
    onNavigate: (route) => {
      for (const a of app.querySelectorAll('.nav-link')) {
        const active = route && a.dataset.nav === route.nav;
        a.classList.toggle('active', Boolean(active));
        if (active) {
          a.setAttribute('aria-current', 'page');
        } else {
          a.removeAttribute('aria-current');
        }
      }
    },
  });
  router.start();
}

async function signOut() {
  try {
    await api.signOut();
  } catch {
    // The session may have ended already; either way the user is shown the sign-in page.
  }
  api.setCsrfToken('');
  setSession(null);
  // The next person to sign in starts from the overview, not from this user's last page.
  history.replaceState(null, '', '#/posture');
  showSignIn({info: 'You have signed out.'});
}

// showSignIn renders the sign-in form; info explains why (the session ended), error why the
// session could not be checked.
function showSignIn({info, error} = {}) {
  router?.stop();
  router = null;
  document.querySelectorAll('dialog').forEach((d) => d.remove());
  const notices = new Notices();
  const name = h('input', {type: 'text', name: 'name', autocomplete: 'username', required: true, 'data-test': 'signin-name', id: 'signin-name', autofocus: true});
  const password = h('input', {type: 'password', name: 'password', autocomplete: 'current-password', required: true, 'data-test': 'signin-password', id: 'signin-password'});
  const button = h('button', {type: 'submit', class: 'button button-primary button-block', 'data-test': 'signin-submit'}, 'Sign in');
  const form = h('form', {class: 'signin-form', 'data-test': 'signin-form', novalidate: true},
    h('label', {class: 'field', for: 'signin-name'}, h('span', {class: 'field-label'}, 'User name'), name),
    h('label', {class: 'field', for: 'signin-password'}, h('span', {class: 'field-label'}, 'Password'), password),
    button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    notices.clear();
    if (!name.value.trim() || !password.value) {
      notices.error(new Error('enter your user name and password'), 'Cannot sign in');
      return;
    }
    button.disabled = true;
    button.textContent = 'Signing in…';
    try {
      const s = await api.signIn(name.value.trim(), password.value);
      start(s);
    } catch (err) {
      notices.error(err, 'Sign-in failed');
      password.value = '';
      password.focus();
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  });
  if (info) {
    notices.info(info);
  }
  if (error) {
    notices.error(error, 'Cannot check the session');
  }
  replace(app, h('div', {class: 'signin'},
    h('div', {class: 'signin-card'},
      h('div', {class: 'signin-brand'}, h('img', {src: '/assets/favicon.svg', alt: '', width: 36, height: 36}),
        h('div', {}, h('h1', {}, 'Palisade'), h('p', {class: 'muted'}, 'Compliance posture console'))),
      notices.el,
      form)));
  name.focus();
}

// start records a session answer and shows the application.
function start(s) {
  setSession(s);
  api.setCsrfToken(s.csrf_token);
  showApp();
}

async function boot() {
  api.onUnauthorized(() => {
    if (session()) {
      setSession(null);
      api.setCsrfToken('');
      showSignIn({info: 'Your session has ended. Sign in again to continue.'});
    }
  });
  try {
    start(await api.getSession());
  } catch (err) {
    showSignIn(err.status === 401 ? {} : {error: err});
  }
}

boot();
