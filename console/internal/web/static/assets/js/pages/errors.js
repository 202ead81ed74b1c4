// Pages for unknown addresses and for pages the user's role may not open.

import {add, h} from '../dom.js';
import {emptyState} from '../ui.js';

// notFound renders an unknown client-side route.
export function notFound(ctx) {
  add(ctx.el, 
    h('h1', {class: 'page-title', 'data-test': 'page-title'}, 'Page not found'),
    emptyState('not-found', h('p', {}, `There is no page at ${ctx.path}.`), h('a', {href: '#/posture'}, 'Go to the posture overview')));
}

// forbidden renders a page the role may not use.
export function forbidden(ctx, message) {
  add(ctx.el, 
    h('h1', {class: 'page-title', 'data-test': 'page-title'}, 'Not allowed'),
    emptyState('forbidden', h('p', {}, `${message} Ask an administrator if you need access.`), h('a', {href: '#/posture'}, 'Go to the posture overview')));
}
