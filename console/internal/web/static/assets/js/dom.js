// Small DOM helpers. Every page builds its DOM through h() and svg(), which set text with
// text nodes and attributes with setAttribute, so data from the API is never parsed as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

// Properties set directly on the element rather than as attributes.
const PROPS = new Set(['checked', 'disabled', 'value', 'selected', 'indeterminate', 'open', 'multiple', 'required', 'readOnly']);

function applyAttrs(el, attrs, isSvg) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'class') {
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (!isSvg && PROPS.has(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) {
      continue;
    }
    if (Array.isArray(child)) {
      append(el, child);
    } else if (child instanceof Node) {
      el.appendChild(child);
    } else {
      el.appendChild(document.createTextNode(String(child)));
    }
  }
}

// h creates an HTML element: h('a', {href: '#/x', 'data-test': 'y', onclick: fn}, 'text', child).
// Attributes with the value false, null or undefined are left out; children may be strings,
// nodes, arrays or nothing.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs, false);
  append(el, children);
  return el;
}

// svg creates an SVG element the same way.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs, true);
  append(el, children);
  return el;
}

// add appends the children to el, skipping false, null and undefined and flattening arrays
// (Element.append would insert them as text).
export function add(el, ...children) {
  append(el, children);
  return el;
}

// replace empties el and appends the children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// debounce delays fn until wait ms have passed without another call.
export function debounce(fn, wait) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

// sleep resolves after ms, or rejects when signal aborts.
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal?.addEventListener('abort', onAbort, {once: true});
  });
}

// copyText puts text on the clipboard; outside a secure context it falls back to a
// temporary selection.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = h('textarea', {class: 'offscreen', readonly: true});
  area.value = text;
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) {
    throw new Error('the browser refused to copy; select the text and copy it by hand');
  }
}

// uniqueId returns an id for label/for pairs.
let idCounter = 0;
export function uniqueId(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
